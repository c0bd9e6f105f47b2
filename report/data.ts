/**
 * The plain-JSON data of a report: what `collect.ts` gathers from Temporal and the artifact store,
 * and all that `render.ts` draws from. Rendering never does I/O, so tests can feed it synthetic data.
 */

/** Counts by reason (drops, removals, failures). */
export type Reasons = Record<string, number>;

/** How one stage of an experiment got its result. */
export interface StageRow {
  stage: string;
  status: 'ran' | 'cached';
  cacheKey: string;
  /** Workflow that produced it (another experiment's child when cached). */
  producer: string;
}

/** The mine stage's funnel. */
export interface MineData {
  repos: number;
  prs_seen: number;
  prs_kept: number;
  prs_dropped: Reasons;
  samples: number;
  tokens: number;
  formats: Record<string, { eligible: number; filtered: Reasons; samples: number; tokens: number; dropped: Reasons }>;
  task_candidates: number;
}

/** The build stage's funnel. */
export interface BuildData {
  candidates: number;
  built: number;
  validated: number;
  kept: number;
  failed: Reasons;
}

/** The rollout stage's counts. */
export interface RolloutData {
  tasks: number;
  rollouts: number;
  passed: number;
  failed: number;
  pass_rate: number;
  dropped: Reasons;
  tokens: number;
}

/** One source of one training stage (from its manifest.json). */
export interface MixSourceData {
  documents_in: number;
  tokens_in: number;
  removed: Record<string, { documents: number; tokens: number }>;
  documents_out: number;
  tokens_out: number;
  repetition: number;
  share: number;
}

/** One training stage of the mixture (from its manifest.json, else the mix summary). */
export interface MixStageData {
  name: string;
  /** Where the numbers come from: the manifest (exact) or the summary (manifest unreadable). */
  from: 'manifest' | 'summary';
  seq_len: number | null;
  sequences: number;
  tokens: number;
  content_tokens: number;
  eos_tokens: number | null;
  pad_tokens: number | null;
  loss_tokens: number;
  documents: number;
  sources: Record<string, MixSourceData | { tokens_out: number; repetition: number; share: number }>;
}

/** The mix stage. */
export interface MixData {
  tokenizer: string;
  /** Cleaning per source (whatever stages use it). */
  sources: Record<
    string,
    {
      documents_in: number;
      tokens_in: number;
      removed: Record<string, { documents: number; tokens: number }>;
      documents_kept: number;
      tokens_kept: number;
    }
  >;
  stages: MixStageData[];
}

/** One point of a loss curve. */
export interface LossPoint {
  step: number;
  loss: number;
}

/** One training stage. */
export interface TrainStageData {
  name: string;
  state: string;
  steps: number | null;
  tokens: number | null;
  loss_first: number | null;
  loss_last: number | null;
  /** The metrics' step lines, thinned to at most a few hundred points. */
  curve: LossPoint[];
}

/** The train stage. */
export interface TrainData {
  stages: TrainStageData[];
}

/** A 95% interval. */
export interface Interval {
  low: number;
  high: number;
  method: string;
}

/** The evaluate stage. */
export interface EvaluateData {
  model: string;
  tasks: number;
  runs: number;
  resolved_rates: number[];
  mean: number;
  ci95: Interval | null;
  ci95_instances: Interval | null;
  baselines: { name: string; mean: number; difference: number }[];
}

/** Everything shown for one experiment. */
export interface ExperimentData {
  id: string;
  stages: StageRow[];
  mine?: MineData;
  build?: BuildData;
  rollout?: RolloutData;
  mix?: MixData;
  train?: TrainData;
  evaluate?: EvaluateData;
  /** Mid-training tokens: train metrics of the non-SFT stages, else the mix manifests' tokens. */
  midtrain_tokens: number | null;
}

/** One arm of a sweep. */
export interface ArmData {
  index: number;
  id: string;
  name: string;
  params: Record<string, unknown>;
  state: string;
  eval_score: number | null;
  error: string | null;
  /** The arm's experiment, when it completed and its result could be read. */
  experiment?: ExperimentData;
}

/** A report: one experiment, or a sweep with its arms. */
export type ReportData =
  | { kind: 'experiment'; id: string; experiment: ExperimentData; warnings: string[] }
  | {
      kind: 'sweep';
      id: string;
      sweep: { completed: number; reused: number; failed: number; runs: number };
      arms: ArmData[];
      warnings: string[];
    };
