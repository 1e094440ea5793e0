import fs from 'node:fs';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium, which .ci/run installs with apt; nothing here downloads a browser. */
export const chromiumPath = process.env.INTERP_CHROMIUM ?? '/usr/bin/chromium';

/**
 * True when there is no browser and the run may go on without the tests that need one, after saying so in
 * one line. In CI (CI set) a missing browser is not a reason to skip: the tests run and fail.
 */
export function browserMissing(): boolean {
  if (fs.existsSync(chromiumPath) || process.env.CI) return false;
  process.stderr.write(
    `report tests skipped: no browser at ${chromiumPath} (apt-get install chromium, or set INTERP_CHROMIUM)\n`,
  );
  return true;
}

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath))
    throw new Error(`no browser at ${chromiumPath}: apt-get install chromium (or set INTERP_CHROMIUM)`);
  return chromium.launch({
    executablePath: chromiumPath,
    // Without the background-networking flags Chromium keeps trying hosts that a closed network refuses.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface OpenedPage {
  page: Page;
  /** Every request the page made other than loading its own file (each one was refused). */
  requests: string[];
  errors: string[];
  loadMs: number;
}

/** Open a local HTML file with the network blocked: any request beyond the file itself is aborted and recorded. */
export async function openOffline(browser: Browser, file: string): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, offline: true });
  const page = await context.newPage();
  const url = `file://${file}`;
  const requests: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    if (route.request().url() === url) return route.continue();
    requests.push(route.request().url());
    return route.abort();
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const start = Date.now();
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  return { page, requests, errors, loadMs: Date.now() - start };
}

/** Share of pixels that are not the page's white, and how many distinct colours the screenshot holds. */
export function inkOf(png: Buffer): { ink: number; colours: number } {
  const image = PNG.sync.read(png);
  const colours = new Set<number>();
  let ink = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    const [r, g, b] = [image.data[i], image.data[i + 1], image.data[i + 2]];
    if (r < 250 || g < 250 || b < 250) ink++;
    colours.add((r << 16) | (g << 8) | b);
  }
  return { ink: ink / (image.width * image.height), colours: colours.size };
}

/**
 * Text elements whose contrast with the background behind them is under WCAG AA's 4.5:1 (runs in the page):
 * the first opaque background among the element and its ancestors counts, white where there is none.
 */
export function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number);
    const channel = (c: number) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    const luminance = ([r, g, b]: number[]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (node: Element | null): number[] => {
      for (let n = node; n; n = n.parentElement) {
        const c = rgb(getComputedStyle(n).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const failures: string[] = [];
    for (const node of Array.from(document.querySelectorAll('body *'))) {
      if (node.closest('svg, option, #tooltip') || node.getClientRects().length === 0) continue;
      const ownText = Array.from(node.childNodes).some((c) => c.nodeType === 3 && c.textContent!.trim() !== '');
      if (!ownText) continue;
      const fg = luminance(rgb(getComputedStyle(node).color));
      const bg = luminance(background(node));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5)
        failures.push(`${node.tagName.toLowerCase()} "${node.textContent!.slice(0, 30)}": ${ratio.toFixed(2)}`);
    }
    return failures;
  });
}
