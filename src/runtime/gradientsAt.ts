import { usageError } from '../errors.js';
import { gradientSession, headScoreOf, runGradients, targetHead, type GradientSource } from '../gradients/session.js';
import type { Model } from './model.js';
import type { Target } from '../target/target.js';
import type { RunContext } from './context.js';
import { HookCache, runWithHooks, type Tensor } from './hooks.js';
import { resolveSite, type EmbedSite, type MlpSite, type ResidSite, type ResolvedSite } from './sites.js';

/** Sites a gradient can be taken at: those of shape [position, width]. */
export type GradientSite = EmbedSite | ResidSite | MlpSite;

export interface SiteGradients {
  /** The target's score on this sequence (its log-probability, or the label's score). */
  score: number;
  /** Per site, ∂score/∂activation, [position, width] like the site's value. */
  gradients: HookCache;
}

/** The gradient graph's source for a site: its hidden state, or its layer's feed-forward activation. */
function sourceOf(s: ResolvedSite): GradientSource {
  if (s.kind === 'mlp') return { kind: 'mlp', layer: s.layer };
  if (s.kind === 'embed') return { kind: 'hidden', layer: 0 };
  if (s.kind === 'resid') return { kind: 'hidden', layer: s.layer + (s.site.endsWith('.post') ? 1 : 0) };
  throw usageError(`gradients are taken at embed, resid and mlp sites; not yet at ${s.site}`);
}

/**
 * The gradient of the target's score with respect to each site's activation (attribution to an internal
 * site), from the same graphs as every gradient: the forward runs to the site, the rest of the model runs
 * forward and backward from it. A continuation target scores its tokens appended to each sequence.
 */
export async function gradientsAt(
  model: Model,
  sequences: readonly (readonly number[])[],
  sites: readonly GradientSite[],
  target: Target,
  run?: RunContext,
): Promise<SiteGradients[]> {
  const resolved = await Promise.all(sites.map((s) => resolveSite(model, s)));
  const sources = resolved.map(sourceOf);
  const rows = sequences.map((ids) => {
    const head = targetHead(target, ids.length);
    return { ...head, ids: [...ids, ...head.extra] };
  });
  const values = await runWithHooks(
    model,
    rows.map((r) => r.ids),
    { read: sites },
  );
  const perSite: { score: number; gradient: Tensor }[][] = [];
  for (const [k, source] of sources.entries()) {
    const gs = await gradientSession(model, source, headScoreOf(target));
    const inputs = rows.map((r, i) => ({ ...r, cut: values[i].cache.get(sites[k]).data }));
    const results = await runGradients(model, gs, inputs, run);
    perSite.push(
      results.map((g, i) => ({
        score: g.score,
        gradient: { data: g.gradients[0], dims: [...values[i].cache.get(sites[k]).dims] },
      })),
    );
  }
  return rows.map((_, i) => ({
    score: perSite[0]?.[i].score ?? NaN,
    gradients: new HookCache(new Map(sites.map((s, k) => [s, perSite[k][i].gradient]))),
  }));
}
