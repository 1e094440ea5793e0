import { explainText, type Attribution, type ExplainRequest } from '../explain.js';
import type { Model } from '../model/types.js';
import { attackExplanation, type AttackSettings, type Robustness } from './attack.js';

/** An explanation and the adversary it met (`explain --robustness`). */
export type RobustAttribution = Attribution & { robustness: Robustness };

/**
 * Explain the text, then search word substitutions that keep the prediction and move that explanation most:
 * the same attack, with the same settings, as `fidelity --robustness` runs on every example of a dataset.
 */
export async function explainRobustly(
  model: Model,
  request: ExplainRequest,
  settings: AttackSettings,
): Promise<RobustAttribution> {
  const attribution = await explainText(model, request);
  return { ...attribution, robustness: await attackExplanation(model, request, attribution, settings) };
}
