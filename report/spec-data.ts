import { EvaluateConfig, MixConfig, TrainConfig } from '../contracts';
import type { Scalar, SpecData } from './data';

/**
 * The settings of an experiment spec that a report shows, from the spec as the workflow received
 * it: the train stage's hyperparameters per training stage (the recipe's defaults filled in, as
 * the trainer got them), the mixture, the evaluate settings, and the other stages' settings as
 * written. A section that does not parse is shown as written.
 */
export function specData(raw: unknown, warnings: string[], id: string): SpecData {
  const spec = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const out: SpecData = {
    description: typeof spec.description === 'string' ? spec.description : '',
    other: {},
  };
  const mix = spec.mix === undefined ? undefined : MixConfig.safeParse(spec.mix);
  if (mix?.success)
    out.mix = {
      tokenizer: mix.data.tokenizer,
      seed: mix.data.seed,
      stages: mix.data.stages.map((s) => ({
        name: s.name,
        seq_len: s.seq_len,
        requested_tokens: s.requested_tokens,
        loss_mask: s.loss_mask,
        sources: s.sources.map((x) => ({
          source: x.source,
          weight:
            x.ratio !== undefined
              ? `ratio ${x.ratio}`
              : x.tokens !== undefined
                ? `tokens ${x.tokens}`
                : `repeat ${x.repeat ?? 1}`,
        })),
      })),
    };
  const train = spec.train === undefined ? undefined : TrainConfig.safeParse(spec.train);
  if (train?.success) {
    const t = train.data;
    const seqLen = (data: string) => mix?.data?.stages.find((m) => m.name === data)?.seq_len ?? null;
    out.train = {
      model: t.base_model ?? (t.model_config ? `config ${t.model_config}` : null),
      framework: t.framework.type,
      resources: flatten(t.resources),
      stages: t.stages.map((s) => ({
        name: s.name,
        kind: s.kind,
        data: s.data,
        seq_len: seqLen(s.data),
        init: s.init ?? null,
        hparams: flatten(s.hparams),
      })),
    };
  }
  const ev = spec.evaluate === undefined ? undefined : EvaluateConfig.safeParse(spec.evaluate);
  if (ev?.success) {
    const e = ev.data;
    const model = e.model
      ? 'checkpoint' in e.model
        ? { checkpoint: e.model.checkpoint, serve: e.model.serve.framework }
        : { endpoint: e.model.endpoint, model: e.model.model }
      : undefined;
    out.evaluate = flatten({
      tasks: 'from' in e.tasks ? `from ${e.tasks.from}` : e.tasks.path,
      ...(model ? { model } : {}),
      policy: e.policy,
      tool_mode: e.tool_mode,
      runs: e.runs,
      sampling: e.sampling,
      limits: e.limits,
      baselines: e.baselines.map((b) => b.name),
      run_id: e.run_id,
    });
  }
  for (const [stage, ok] of [
    ['mix', mix],
    ['train', train],
    ['evaluate', ev],
  ] as const)
    if (ok && !ok.success) {
      const i = ok.error.issues[0];
      warnings.push(
        `${id}: the spec's ${stage} section does not parse (${i ? `${i.path.join('.')}: ${i.message}` : 'invalid'}); shown as written`
      );
      out.other[stage] = flatten(spec[stage]);
    }
  for (const stage of ['mine', 'build', 'rollout'])
    if (spec[stage] !== undefined) out.other[stage] = flatten(spec[stage]);
  return out;
}

/** A name for an array entry that is an object: its `name`, `repo` or `source`, if any. */
function entryName(v: unknown): string | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  for (const k of ['name', 'repo', 'source', 'path']) if (typeof o[k] === 'string') return o[k];
  return null;
}

/**
 * An object as dotted keys and scalar values. Arrays of scalars (or of named objects) become one
 * comma-separated value; other arrays their length.
 */
export function flatten(v: unknown, prefix = ''): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  const walk = (x: unknown, key: string) => {
    if (Array.isArray(x)) {
      const names = x.map((e) => (e !== null && typeof e === 'object' ? entryName(e) : String(e)));
      out[key] = !x.length
        ? 'none'
        : names.every((n) => n !== null)
          ? names.join(', ')
          : `${x.length} ${x.length === 1 ? 'entry' : 'entries'}`;
    } else if (x !== null && typeof x === 'object') {
      for (const [k, y] of Object.entries(x)) if (y !== undefined) walk(y, key ? `${key}.${k}` : k);
    } else if (x !== undefined) out[key] = x as Scalar;
  };
  walk(v, prefix);
  return out;
}
