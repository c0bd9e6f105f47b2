import { z } from 'zod';

/**
 * Upper bounds on the numbers of an experiment spec. Each is far above anything a paper-scale run
 * needs, so a value above it can only be a mistake (a unit mix-up, a few zeros too many) that
 * would otherwise exhaust memory, disk or a cluster quota long after the run started. The spec
 * rejects it up front with a message naming the field, the limit and what it stands for.
 */

/** One bound: the largest accepted value, its unit, and why nothing sensible lies above it. */
export interface SpecBound {
  max: number;
  unit: string;
  why: string;
}

const DAY_S = 86_400;

/** Every bound, by kind; `docs` and the README list them from here. */
export const SPEC_BOUNDS = {
  /** mix.stages[].seq_len */
  seq_len: { max: 2 ** 20, unit: 'tokens', why: '1M tokens per sequence, beyond the context of any model trained' },
  /** Per-document or per-request token gates (mine/mix/rollout `max_tokens` and the like). */
  doc_tokens: { max: 2 ** 24, unit: 'tokens', why: '16M tokens in one document or request' },
  /** Token budgets of a training stage or source. */
  token_budget: { max: 1e14, unit: 'tokens', why: '100 trillion tokens, more than any training corpus' },
  /** mix.shard_tokens: int32 ids, so 2^30 tokens make a 4 GiB `.bin` file. */
  shard_tokens: { max: 2 ** 30, unit: 'tokens', why: 'a 4 GiB shard of int32 token ids' },
  /** Repetition factors (mix `repeat`, `max_repetition`). */
  repeat: { max: 1000, unit: 'repetitions', why: 'a source repeated more than 1,000 times' },
  /** Things done at once on one worker or against one endpoint. */
  concurrency: { max: 1024, unit: 'at once', why: 'more than one worker or endpoint can serve' },
  /** Container starts per second per worker. */
  rate: { max: 1000, unit: 'per second', why: 'more than a container engine can start' },
  /** Agent turns and similar per-episode step counts (`max_steps`, `max_format_errors`). */
  steps: { max: 10_000, unit: 'steps', why: 'an agent episode of more than 10,000 turns' },
  /** Training epochs. */
  epochs: { max: 1000, unit: 'epochs', why: 'more than 1,000 passes over the data' },
  /** Global and micro batch sizes, in sequences. */
  batch: { max: 2 ** 20, unit: 'sequences', why: 'a batch of more than 1M sequences' },
  /** Wall-clock limits and intervals, in seconds. */
  duration_s: { max: 7 * DAY_S, unit: 's', why: 'a week' },
  /** The same, in milliseconds. */
  duration_ms: { max: 7 * DAY_S * 1000, unit: 'ms', why: 'a week' },
  /** Files per PR (relevant files, Python files, changed files). */
  files: { max: 100_000, unit: 'files', why: 'a single pull request touching more than 100,000 files' },
  /** PRs per source, comments per issue. */
  items: { max: 10_000_000, unit: 'items', why: 'more than any repository has' },
  /** Slurm nodes of one job. */
  nodes: { max: 100_000, unit: 'nodes', why: 'more than any cluster has' },
  /** GPUs per node. */
  gpus_per_node: { max: 64, unit: 'GPUs', why: 'more than any node has' },
  /** CPUs of one task or container. */
  cpus: { max: 4096, unit: 'CPUs', why: 'more than any machine has' },
  /** Memory of one container, in MiB. */
  memory_mb: { max: 4 * 1024 * 1024, unit: 'MiB', why: '4 TiB, more than any machine has' },
  /** Processes per container (Linux's own pid_max ceiling). */
  pids: { max: 4_194_304, unit: 'processes', why: "Linux's largest pid_max" },
  /** Local disk budget for images, in GB. */
  disk_gb: { max: 1_000_000, unit: 'GB', why: 'a petabyte of local disk' },
  /** Child workflows of one stage run before it continues as new. */
  batches: { max: 1000, unit: 'batches', why: "larger runs bloat the stage workflow's history" },
  /** Shingle and n-gram sizes (words). */
  ngram: { max: 1000, unit: 'words', why: 'an n-gram of more than 1,000 words matches nothing' },
  /** MinHash permutations. */
  num_perm: { max: 8192, unit: 'permutations', why: 'signatures larger than 32 KiB per document' },
  /** Trajectories kept per task. */
  per_task: { max: 1000, unit: 'trajectories', why: 'more than 1,000 trajectories of one task' },
  /** A spending cap, in US dollars. */
  cost_usd: { max: 1_000_000, unit: 'USD', why: 'a million dollars of API calls' },
} as const satisfies Record<string, SpecBound>;

export type SpecBoundName = keyof typeof SPEC_BOUNDS;

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * A zod check enforcing bound `name` (zod's own `lte`, so the JSON Schema gets its `maximum`), e.g.
 * `z.number().int().check(atMost('seq_len'))`. The message names the limit, its unit and reason;
 * zod's issue path (formatted by `describeIssues`) names the field, so a spec error reads
 * `mix.stages[0].seq_len: 2,000,000 is above the limit of 1,048,576 tokens (...)`.
 */
export function atMost(name: SpecBoundName) {
  const b: SpecBound = SPEC_BOUNDS[name];
  return z.lte(b.max, {
    error: (iss) =>
      `${typeof iss.input === 'number' ? fmt(iss.input) : JSON.stringify(iss.input)} is above the limit of ` +
      `${fmt(b.max)} ${b.unit} (${b.why}); a larger value is almost certainly a mistake`,
  });
}
