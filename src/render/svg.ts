import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/paths.js';

/** Render a Vega-Lite spec to an SVG string in Node, with no browser. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded here, not at start-up: Vega and Vega-Lite take about 140 ms to import, and only --svg needs them.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  // Errors only: Vega-Lite's warnings (domains it merges, say) are about chart internals, not the user's input.
  const logger = vega.logger(vega.Error);
  const view = new vega.View(vega.parse(compile(spec, { logger }).spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeSvg(file: string, spec: TopLevelSpec): Promise<void> {
  writeFileAtomic(file, await renderSvg(spec));
}
