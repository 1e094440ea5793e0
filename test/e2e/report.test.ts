import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomGpt2Folder } from '../../fixtures/exports.js';
import type { PageReport } from '../../src/report/page.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { browserMissing, inkOf, launchBrowser, lowContrast, openOffline, type OpenedPage } from '../support/browser.js';

/** The report in a real headless browser (Debian's chromium), opened from disk with the network blocked. */

let dir: string;
let browser: Browser;

/** The interp/report@1 document a page embeds. */
export function pageData(html: string): PageReport {
  const json = html.match(/<script type="application\/json" id="interp-data">([\s\S]*?)<\/script>/)![1];
  return JSON.parse(json) as PageReport;
}

async function makeReport(name: string, args: string[]): Promise<{ file: string; data: PageReport; html: string }> {
  const file = path.join(dir, name);
  const r = await runCli(['report', ...args, '--out', file]);
  expect(r.code, r.stderr).toBe(0);
  const html = fs.readFileSync(file, 'utf8');
  return { file, data: pageData(html), html };
}

const signed = (v: number) => (v >= 0 ? '+' : '−') + Math.abs(v).toFixed(4);
const backgrounds = (page: Page) =>
  page.$$eval('#token-view .tok', (spans) => spans.map((s) => (s as HTMLElement).style.background));
const values = (page: Page) =>
  page.$$eval('#token-view .tok', (spans) => spans.map((s) => Number((s as HTMLElement).dataset.value)));
const mapPixels = (page: Page) => page.$eval('#head-map', (c) => (c as HTMLCanvasElement).toDataURL());

// Without a browser these tests are skipped and say why in one line; in CI (CI set), they fail instead.
const skip = browserMissing();

beforeAll(async () => {
  dir = tempDir('interp-report-');
  if (!skip) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip)('interp report on the embedded classifier', () => {
  let made: Awaited<ReturnType<typeof makeReport>>;
  let opened: OpenedPage;
  beforeAll(async () => {
    made = await makeReport('classifier.html', ['the film was a delight', '--seed', '3']);
    opened = await openOffline(browser, made.file);
  }, 120_000);

  it('is one file that loads with no network request and no script error', () => {
    expect(opened.requests).toEqual([]);
    expect(opened.errors).toEqual([]);
    expect(made.html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(made.data.schema).toBe('interp/report@1');
    expect(made.data.methods).toEqual(['occlusion', 'kernel-shap', 'integrated-gradients']);
  });

  it('states its size and the command that reproduces it', async () => {
    const size = await opened.page.textContent('#size');
    expect(size).toMatch(/^\d+ KiB, one file, no network requests$/);
    expect(await opened.page.textContent('code.command')).toBe(
      `interp report 'the film was a delight' --seed 3 --out ${made.file}`,
    );
  });

  it('shows every feature of the text, each with its attribution', async () => {
    const item = made.data.items[0];
    const features = item.explanations[0].features;
    expect(await values(opened.page)).toEqual(features.map((f) => f.attribution));
    const shown = await opened.page.$eval('#token-view', (v) =>
      Array.from(v.childNodes, (n) => (n instanceof HTMLElement ? n.firstChild!.textContent : n.textContent)).join(''),
    );
    expect(shown).toBe(item.text);
  });

  it('switching the method changes the highlights to that method’s values', async () => {
    const before = await backgrounds(opened.page);
    await opened.page.focus('#method-0');
    await opened.page.keyboard.press('ArrowRight');
    const kernel = made.data.items[0].explanations[1];
    expect(kernel.method).toBe('kernel-shap');
    expect(await values(opened.page)).toEqual(kernel.features.map((f) => f.attribution));
    expect(await backgrounds(opened.page)).not.toEqual(before);
    await opened.page.check('#method-0');
  });

  it('hovering a token shows its exact value', async () => {
    const features = made.data.items[0].explanations[0].features;
    const top = features.reduce((a, b) => (Math.abs(b.attribution) > Math.abs(a.attribution) ? b : a));
    await opened.page.hover(`#token-view .tok[data-index="${top.index}"]`);
    expect(await opened.page.isVisible('#tooltip')).toBe(true);
    const tip = await opened.page.textContent('#tooltip');
    expect(tip).toContain(`occlusion: ${signed(top.attribution)}`);
    expect(tip).toContain(`kernel-shap: ${signed(made.data.items[0].explanations[1].features[top.index].attribution)}`);
  });

  it('works with the keyboard: tokens take focus and show their value', async () => {
    await opened.page.focus('#token-view .tok[data-index="0"]');
    expect(await opened.page.isVisible('#tooltip')).toBe(true);
    expect(await opened.page.textContent('#tooltip')).toContain(
      signed(made.data.items[0].explanations[0].features[0].attribution),
    );
    await opened.page.keyboard.press('Escape');
    expect(await opened.page.isVisible('#tooltip')).toBe(false);
  });

  it('choosing a head redraws the head view and its links', async () => {
    const before = await mapPixels(opened.page);
    const links = await opened.page.textContent('#links');
    await opened.page.selectOption('#head', '2');
    expect(await mapPixels(opened.page)).not.toBe(before);
    expect(await opened.page.textContent('#links')).not.toBe(links);
    await opened.page.click('button[aria-label="layer 1 head 3"]');
    expect(await opened.page.inputValue('#layer')).toBe('1');
    expect(await opened.page.$eval('#head-map', (c) => (c as HTMLCanvasElement).dataset.head)).toBe('3');
  });

  it('draws this explanation’s deletion and insertion curves and its ERASER scores', async () => {
    const f = made.data.items[0].faithfulness[0];
    const points = await opened.page.$$eval('#curve polyline', (ls) =>
      ls.map((l) => l.getAttribute('points')!.split(' ').length),
    );
    expect(points).toEqual([f.deletion.length, f.insertion.length]);
    const cells = await opened.page.$$eval('#eraser tbody tr:first-child td', (tds) => tds.map((t) => t.textContent));
    expect(cells).toEqual(Object.values(f.comprehensiveness).map((v) => v.toFixed(4)));
  });

  it('lists the counterfactuals it found', async () => {
    const c = made.data.items[0].counterfactual!;
    expect(await opened.page.$$eval('#counterfactual-list li', (l) => l.length)).toBe(c.counterfactuals.length);
  });

  it('passes WCAG AA contrast for every piece of visible text', async () => {
    expect(await lowContrast(opened.page)).toEqual([]);
  });

  it('renders a non-blank screenshot', async () => {
    const { ink, colours } = inkOf(await opened.page.screenshot({ fullPage: true }));
    expect(ink).toBeGreaterThan(0.05);
    expect(colours).toBeGreaterThan(50);
  });
});

describe.skipIf(skip)('interp report on a causal LM and on a dataset', () => {
  it('shows the generation matrix for --generate', async () => {
    const made = await makeReport('lm.html', [
      'Once upon a time',
      '--model',
      'tiny-lm',
      '--methods',
      'occlusion,grad-x-input',
      '--generate',
      '3',
      '--counterfactual-budget',
      '0',
    ]);
    const { page, requests, errors } = await openOffline(browser, made.file);
    expect([requests, errors]).toEqual([[], []]);
    const g = made.data.items[0].generation!;
    expect(await page.isVisible('#generation')).toBe(true);
    expect(await page.$$eval('#generation-matrix tbody tr', (r) => r.length)).toBe(g.generated.length);
    expect(await page.isVisible('#counterfactuals')).toBe(false);
    expect(await lowContrast(page)).toEqual([]);
  }, 120_000);

  it('lets the reader pick any example of a dataset page', async () => {
    const data = path.join(dir, 'dev.tsv');
    fs.writeFileSync(data, 'a good film\t1\na dull , slow film\t0\nthe cast was wonderful\t1\nnot worth it\t0\n');
    const made = await makeReport('data.html', [
      '--data',
      data,
      '--limit',
      '3',
      '--methods',
      'occlusion,shapley',
      '--counterfactual-budget',
      '0',
    ]);
    expect(made.data.items.map((i) => i.text)).toEqual(['a good film', 'a dull , slow film', 'the cast was wonderful']);
    const { page } = await openOffline(browser, made.file);
    expect(await page.$$eval('#example option', (o) => o.length)).toBe(3);
    await page.selectOption('#example', '1');
    expect(await values(page)).toEqual(made.data.items[1].explanations[0].features.map((f) => f.attribution));
    await page.focus('#example-rows tr[data-item="2"]');
    await page.keyboard.press('Enter');
    expect(await page.inputValue('#example')).toBe('2');
    expect(await page.textContent('#token-view')).toContain('wonderful');
  }, 120_000);
});

describe.skipIf(skip)('interp report on 2,000 tokens', () => {
  it('pools the attention and stays usable', async () => {
    const model = writeRandomGpt2Folder(path.join(dir, 'long-lm'), path.join(repoRoot, 'models', 'tiny-lm'), {
      layers: 2,
      heads: 2,
      dim: 32,
      positions: 2048,
      seed: 1,
    });
    const words = 'the cat sat on a mat and then it ran far into the green forest where birds sang'.split(' ');
    const text = Array.from({ length: 2000 }, (_, i) => words[(i * 7) % words.length]).join(' ');
    const made = await makeReport('long.html', [
      text,
      '--model',
      model,
      '--methods',
      'attention,grad-x-input',
      '--counterfactual-budget',
      '0',
      '--truncate',
    ]);
    const item = made.data.items[0];
    expect(item.tokens.length).toBeGreaterThanOrEqual(2000);
    expect(item.attention.labels.length).toBeLessThanOrEqual(64);
    expect(item.attention.bin).toBeGreaterThan(1);
    const { page, errors } = await openOffline(browser, made.file);
    expect(errors).toEqual([]);
    expect(await page.$$eval('#token-view .tok', (s) => s.length)).toBe(item.explanations[0].features.length);
    await page.check('#method-1');
    expect(await values(page)).toEqual(item.explanations[1].features.map((f) => f.attribution));
    expect(await page.textContent('#pooled')).toMatch(/pooled into \d+ ranges/);
  }, 240_000);
});
