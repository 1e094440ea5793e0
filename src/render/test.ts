import type { Explained } from '../hypothesis/reasons.js';
import type { FailingExample, TestReport, TestResult } from '../hypothesis/report.js';
import { shortName } from '../summary/claims.js';
import { escapeMarkup, fittedTable, formatNumber, intervalText, wrapText } from './format.js';

/** `interp test`: one line per test, then each test's failing examples, worst first, explained side by side. */

const rateText = (t: TestResult) =>
  t.tested ? intervalText({ mean: t.failureRate.rate, low: t.failureRate.low, high: t.failureRate.high }) : '-';
const pText = (t: TestResult) =>
  t.hypothesis ? `${formatNumber(t.hypothesis.pValue)} (${formatNumber(t.hypothesis.pHolm)})` : '-';
const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);

/** The words of an explanation with the largest |attribution|, in text order. */
function topWords(x: Explained, k = 5): string {
  const keep = new Set(
    x.words
      .map((w, i) => [Math.abs(w.attribution), i] as const)
      .filter(([a]) => a > 0)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, k)
      .map(([, i]) => i),
  );
  if (!keep.size) return `every word 0 (${x.words.length} words)`;
  return x.words
    .filter((_, i) => keep.has(i))
    .map((w) => `${w.word} ${signed(w.attribution)}`)
    .join('  ');
}

function failureLines(f: FailingExample, rank: number): string[] {
  const lines = [`${rank}. ${JSON.stringify(f.text)}${f.variant ? ` → ${JSON.stringify(f.variant)}` : ''}`];
  lines.push(`   ${f.detail}`);
  const x = f.explanation;
  if (x) {
    const why = `${x.original.method}, ${x.original.target}`;
    lines.push(`   ${x.variant ? 'original' : 'explained'} (${why}): ${topWords(x.original)}`);
    if (x.variant) lines.push(`   variant  (${why}): ${topWords(x.variant)}`);
  }
  return lines;
}

/** Failing examples and not-applicable reasons of one test, counted. */
function details(t: TestResult, shown: number): string[] {
  const out: string[] = [];
  if (t.status === 'fail') out.push(`FAIL ${t.name}: ${t.reasons.join('; ')}`);
  if (t.failures.length) {
    out.push(`${t.name}: ${t.failed} of ${t.tested} failed (${t.expectation}); the worst:`);
    t.failures.slice(0, shown).forEach((f, i) => out.push(...failureLines(f, i + 1).map((l) => `  ${l}`)));
  }
  const reasons = new Map<string, number>();
  for (const s of t.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  for (const [reason, n] of reasons) out.push(`${t.name}: ${n} not applicable: ${reason}`);
  return out;
}

export function testTable(r: TestReport): string {
  const caption = wrapText(
    `test suite ${r.suite} on ${shortName(r.model)} · ${r.passed} passed, ${r.failed} failed, ${r.ungated} without a gate · seed ${r.seed}, α ${r.alpha}`,
  );
  const head = ['test', 'expectation', 'tested (n/a)', 'failure rate [95% CI]', 'p (Holm)', 'verdict'];
  const rows = r.tests.map((t) => [
    t.name,
    `${t.capability}: ${t.expectation}`,
    `${t.tested} (${t.notApplicable})`,
    rateText(t),
    pText(t),
    `${t.status === 'ungated' ? '-' : t.status}${t.maxFailureRate === null ? '' : ` (gate ${t.maxFailureRate})`}`,
  ]);
  const shown = Math.max(3, ...r.tests.map((t) => t.failures.filter((f) => f.explanation).length));
  const more = r.tests.flatMap((t) => details(t, shown));
  return `${[caption, fittedTable(head, rows), ...(more.length ? ['', ...more] : [])].join('\n')}\n`;
}

/** Text safe in XML content and attributes: markup escaped, characters XML 1.0 forbids dropped. */
const xml = (s: string) =>
  // eslint-disable-next-line no-control-regex
  escapeMarkup(s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ''));

function testCase(suite: string, t: TestResult): string {
  const name = `name="${xml(t.name)}" classname="${xml(`${suite}.${t.capability}`)}" time="0"`;
  const summary = `${t.expectation}: ${t.failed} of ${t.tested} failed, failure rate ${rateText(t)}, ${t.notApplicable} not applicable${t.hypothesis ? `, p = ${formatNumber(t.hypothesis.pValue)} (Holm ${formatNumber(t.hypothesis.pHolm)})` : ''}`;
  const lines = [`    <testcase ${name}>`];
  if (t.status === 'fail') {
    const body = t.failures.slice(0, 10).flatMap((f, i) => failureLines(f, i + 1));
    lines.push(
      `      <failure message="${xml(t.reasons.join('; '))}" type="gate">${xml([summary, ...body].join('\n'))}</failure>`,
    );
  }
  // A test with no gate was measured, not judged: CI shows it as skipped rather than as passed.
  if (t.status === 'ungated')
    lines.push(`      <skipped message="${xml(`no gate (max_failure_rate or --max-failure-rate): ${summary}`)}"/>`);
  lines.push(`      <system-out>${xml(summary)}</system-out>`, '    </testcase>');
  return lines.join('\n');
}

/** JUnit XML: one testsuite, one testcase per test, a failure element for each test that fails its gate. */
export function testJunit(r: TestReport): string {
  const failures = r.tests.filter((t) => t.status === 'fail').length;
  const counts = `tests="${r.tests.length}" failures="${failures}" errors="0"`;
  const skipped = r.tests.filter((t) => t.status === 'ungated').length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="interp test" ${counts} time="0">`,
    `  <testsuite name="${xml(r.suite)}" ${counts} skipped="${skipped}" time="0">`,
    '    <properties>',
    `      <property name="model" value="${xml(r.model)}"/>`,
    `      <property name="seed" value="${r.seed}"/>`,
    '    </properties>',
    ...r.tests.map((t) => testCase(r.suite, t)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** The report page's section on a suite (`interp report --suite`): one row per test, then its worst failures. */
export function testSection(r: TestReport): string {
  const cell = (s: string, num = false) => `<td${num ? ' class="num"' : ''}>${escapeMarkup(s)}</td>`;
  const rows = r.tests.map(
    (t) =>
      `<tr>${cell(t.name)}${cell(`${t.capability}: ${t.expectation}`)}${cell(`${t.tested} (${t.notApplicable})`, true)}${cell(rateText(t), true)}${cell(pText(t), true)}${cell(t.status === 'ungated' ? '-' : t.status)}</tr>`,
  );
  const failing = r.tests.filter((t) => t.failures.length);
  const failures = failing.map(
    (t) =>
      `<h3>${escapeMarkup(`${t.name}: ${t.failed} of ${t.tested} failed`)}</h3>\n<pre>${escapeMarkup(
        t.failures
          .slice(0, 3)
          .flatMap((f, i) => failureLines(f, i + 1))
          .join('\n'),
      )}</pre>`,
  );
  return `<section id="tests" aria-labelledby="h-tests">
<h2 id="h-tests">Test suite ${escapeMarkup(r.suite)}</h2>
<p class="note">${r.passed} passed, ${r.failed} failed, ${r.ungated} without a gate · seed ${r.seed}, α ${r.alpha}; failure rates with 95 % Wilson intervals, p-values Holm-corrected across the suite; failing examples explained (${escapeMarkup(r.method)}) beside their originals.</p>
<table><thead><tr><th>test</th><th>expectation</th><th class="num">tested (n/a)</th><th class="num">failure rate [95% CI]</th><th class="num">p (Holm)</th><th>verdict</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
${failures.join('\n')}
</section>`;
}
