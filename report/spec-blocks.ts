import type { Block, Cell } from './cells';
import { num, txt } from './cells';
import type { Scalar, SpecData } from './data';
import { count, param, tokens } from './format';

/** A setting's cell: numbers keyed with their exact value, anything else as text. */
const setting = (key: string, v: Scalar): Cell => (typeof v === 'number' ? num(key, v, param) : txt(param(v)));

/** A `setting | value` table of flattened settings. */
function settingsTable(values: Record<string, Scalar>, key: string): Block {
  return {
    kind: 'table',
    head: ['setting', 'value'],
    rows: Object.entries(values).map(([name, v]) => [txt(name), setting(`${key}${name}`, v)]),
  };
}

/** `a 1, b x`: settings on one line. */
const inline = (values: Record<string, Scalar>) =>
  Object.entries(values)
    .map(([name, v]) => `${name} ${param(v)}`)
    .join(', ');

/**
 * The spec's settings, compactly: the train stage's hyperparameters per training stage, the
 * mixture, the evaluate settings, then the other stages' settings as written. Keys: `spec.…`.
 */
export function specBlocks(spec: SpecData, k: string, anchor: string): Block[] {
  const out: Block[] = [{ kind: 'heading', level: 2, text: 'Settings', anchor: `${anchor}settings` }];
  if (spec.description) out.push({ kind: 'para', text: spec.description });
  const t = spec.train;
  if (t) {
    const keys = [...new Set(t.stages.flatMap((s) => Object.keys(s.hparams)))];
    out.push(
      { kind: 'heading', level: 3, text: 'Training hyperparameters' },
      {
        kind: 'facts',
        items: [
          { label: 'Model', cell: txt(t.model ?? 'as each stage’s init') },
          { label: 'Framework', cell: txt(t.framework) },
          { label: 'Resources', cell: txt(inline(t.resources)) },
        ],
      },
      {
        kind: 'table',
        head: ['stage', 'kind', 'data', 'seq len', 'init', ...keys],
        rows: t.stages.map((s) => [
          txt(s.name),
          txt(s.kind),
          txt(s.data),
          num(`${k}spec.train.${s.name}.seq_len`, s.seq_len, count),
          txt(s.init ?? (t.model ? 'model' : '–')),
          ...keys.map((h) => setting(`${k}spec.train.${s.name}.${h}`, s.hparams[h] ?? null)),
        ]),
      }
    );
  }
  const m = spec.mix;
  if (m)
    out.push(
      { kind: 'heading', level: 3, text: 'Mixture as specified' },
      {
        kind: 'facts',
        items: [
          { label: 'Tokenizer', cell: txt(m.tokenizer) },
          { label: 'Seed', cell: num(`${k}spec.mix.seed`, m.seed, param) },
        ],
      },
      {
        kind: 'table',
        head: ['stage', 'seq len', 'requested tokens', 'loss mask', 'sources'],
        rows: m.stages.map((s) => [
          txt(s.name),
          num(`${k}spec.mix.${s.name}.seq_len`, s.seq_len, count),
          s.requested_tokens === 'all'
            ? txt('all')
            : num(`${k}spec.mix.${s.name}.requested_tokens`, s.requested_tokens, tokens),
          txt(s.loss_mask),
          txt(s.sources.map((x) => `${x.source} ${x.weight}`).join(', ')),
        ]),
      }
    );
  if (spec.evaluate)
    out.push(
      { kind: 'heading', level: 3, text: 'Evaluation settings' },
      settingsTable(spec.evaluate, `${k}spec.evaluate.`)
    );
  const other = Object.entries(spec.other);
  if (other.length)
    out.push({
      kind: 'group',
      summary: 'Other settings as written',
      blocks: other.flatMap(([stage, values]): Block[] => [
        { kind: 'heading', level: 3, text: stage },
        settingsTable(values, `${k}spec.${stage}.`),
      ]),
    });
  return out;
}
