/**
 * The plain-JSON data of a report: what `collect.ts` gathers from Temporal and the artifact store,
 * and all that `render.ts` draws from. Rendering never does I/O, so tests can feed it synthetic data.
 */

/** Counts by reason (drops, removals, failures). */
export type Reasons = Record<string, number>;

/** One workflow run as Temporal describes it: when it started and closed, and its Web UI page. */
export interface RunData {
  workflowId: string;
  runId: string;
  /** ISO 8601; null when Temporal no longer has the run (retention) or could not be asked. */
  start: string | null;
  close: string | null;
  /** close − start in milliseconds. */
  duration_ms: number | null;
  /** Temporal Web UI page of the run. */
  url: string;
}

/** How one stage of an experiment got its result. */
export interface StageRow {
  stage: string;
  status: 'ran' | 'cached';
  cacheKey: string;
  /** Workflow that produced it (another experiment's child when cached). */
  producer: string;
  /** The run that produced it: this experiment's stage run, or (cached) the earlier run it was reused from. */
  run?: RunData;
}

/** The mine stage's funnel. */
export interface MineData {
  repos: number;
  prs_seen: number;
  prs_kept: number;
  prs_dropped: Reasons;
  /** PRs found, by how they were merged (git sources) or `api` (GitHub). */
  prs_found: Reasons;
  /** Commits found that are not PRs, by reason. */
  not_prs: Reasons;
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
  /** The metrics' step lines, thinned to at most a few hundred points (steps as the trainer numbered them). */
  curve: LossPoint[];
  /** Slurm job id. */
  job_id: string;
  /** The stage's final checkpoint (what the next stage starts from). */
  checkpoint: string;
}

/** The train stage. */
export interface TrainData {
  stages: TrainStageData[];
  /** The last stage's final checkpoint: the trained model. */
  final_checkpoint: string;
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

/** A setting's value as the spec gives it. */
export type Scalar = string | number | boolean | null;

/** One training stage's settings: the spec's hyperparameters with the recipe's defaults filled in. */
export interface TrainStageSpec {
  name: string;
  kind: string;
  /** The mix stage it trains on, and that stage's sequence length. */
  data: string;
  seq_len: number | null;
  /** `previous`, a model path, or null (the train stage's model). */
  init: string | null;
  hparams: Record<string, Scalar>;
}

/** One training stage of the mixture as the spec asks for it. */
export interface MixStageSpec {
  name: string;
  seq_len: number;
  requested_tokens: number | 'all';
  loss_mask: string;
  /** Each source with its weight as written (`repeat 2`, `ratio 0.3`, `tokens 1000000`). */
  sources: { source: string; weight: string }[];
}

/** The spec's settings a reader needs to judge a result (all from the experiment's workflow input). */
export interface SpecData {
  description: string;
  train?: {
    /** `base_model`, or `model_config` (random init). */
    model: string | null;
    framework: string;
    resources: Record<string, Scalar>;
    stages: TrainStageSpec[];
  };
  mix?: { tokenizer: string; seed: number; stages: MixStageSpec[] };
  /** Evaluate settings, flattened to dotted keys. */
  evaluate?: Record<string, Scalar>;
  /** Other stages' settings as written, flattened to dotted keys, by stage. */
  other: Record<string, Record<string, Scalar>>;
}

/** What happened to one stage of an experiment's graph (contracts/results.ts DagStatus). */
export type DagNodeStatus = 'waiting' | 'running' | 'ran' | 'cached' | 'failed' | 'not_started' | 'cancelled';

/** The experiment's DAG: its stages in the graph's order with their status, and what each reads. */
export interface DagData {
  /** `result`: as the run recorded it; `spec`: drawn from the spec (runs from before the DAG). */
  from: 'result' | 'spec';
  nodes: { stage: string; status: DagNodeStatus; needs: string[] }[];
  /** `to` reads `what` (empty when unknown) from `from`. */
  edges: { from: string; to: string; what: string[] }[];
}

/** Everything shown for one experiment. */
export interface ExperimentData {
  id: string;
  /** The experiment's own run (absent in data built without Temporal). */
  run?: RunData;
  /** Its settings, read from the workflow's input (absent when unreadable). */
  spec?: SpecData;
  stages: StageRow[];
  /** The stage graph (absent when neither the result nor the spec gives one). */
  dag?: DagData;
  mine?: MineData;
  build?: BuildData;
  rollout?: RolloutData;
  mix?: MixData;
  train?: TrainData;
  /** The evaluation (the first one when the experiment has several named ones). */
  evaluate?: EvaluateData;
  /** Several named evaluations (`evaluate` as a list), in the spec's order, compared in the report. */
  evaluations?: (EvaluateData & { node: string })[];
  /** Mid-training tokens: train metrics of the non-SFT stages, else the mix manifests' tokens. */
  midtrain_tokens: number | null;
  /** Stages that produced nothing somewhere, from their counts (contracts/run-warnings.ts). */
  empty_outputs?: string[];
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
  /** The arm's experiment run, when Temporal has it. */
  run?: RunData;
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
      /** The sweep's own run (absent in data built without Temporal). */
      run?: RunData;
      arms: ArmData[];
      warnings: string[];
    };
