import {
  BuildStageResult,
  EvaluateStageResult,
  MineStageResult,
  MixManifest,
  MixStageResult,
  RolloutStageResult,
  TrainStageResult,
  evaluationNodes,
  experimentWarnings,
  type ExperimentResult,
} from '../contracts';
import type { EvaluateData, ExperimentData, LossPoint, MixData, MixStageData, TrainData } from './data';
import { dagData } from './dag-data';
import type { ArtifactReader } from './read-artifact';

/** Loss curves keep at most this many points (the first and last always among them). */
export const MAX_CURVE_POINTS = 400;

/**
 * Turns an experiment's result into report data, reading the mix manifests and the train metrics
 * through `read`. Anything unreadable or of an unexpected shape becomes a warning, not a failure:
 * a report of what could be read beats none.
 */
export async function experimentData(
  result: ExperimentResult,
  read: ArtifactReader,
  warnings: string[]
): Promise<ExperimentData> {
  const id = result.experimentId;
  const data: ExperimentData = {
    id,
    stages: Object.entries(result.stages).map(([stage, o]) => ({
      stage,
      status: o.status,
      cacheKey: o.cacheKey,
      producer: o.producer.workflowId,
    })),
    midtrain_tokens: null,
  };
  const dag = dagData(result);
  if (dag) data.dag = dag;
  const parse = <T>(stage: string, schema: { safeParse(v: unknown): { success: boolean; data?: T } }) => {
    const o = result.stages[stage];
    if (!o) return undefined;
    const r = schema.safeParse(o.result);
    if (!r.success) warnings.push(`${id}: the ${stage} stage's result has an unexpected shape; left out`);
    return r.success ? r.data : undefined;
  };

  const mine = parse<MineStageResult>('mine', MineStageResult);
  if (mine) {
    const s = mine.summary;
    data.mine = {
      repos: s.repos,
      prs_seen: s.prs_seen,
      prs_kept: s.prs_kept,
      prs_dropped: s.prs_dropped,
      prs_found: s.discovery.prs_found,
      not_prs: s.discovery.not_prs,
      samples: s.samples,
      tokens: s.tokens,
      formats: Object.fromEntries(
        Object.entries(s.formats).map(([k, f]) => [
          k,
          { eligible: f.eligible, filtered: f.filtered, samples: f.samples, tokens: f.tokens, dropped: f.dropped },
        ])
      ),
      task_candidates: s.task_candidates,
    };
  }
  const build = parse<BuildStageResult>('build', BuildStageResult);
  if (build) {
    const { candidates, built, validated, kept, failed } = build.summary;
    data.build = { candidates, built, validated, kept, failed };
  }
  const rollout = parse<RolloutStageResult>('rollout', RolloutStageResult);
  if (rollout) {
    const { tasks, rollouts, passed, failed, pass_rate, dropped, tokens } = rollout.summary;
    data.rollout = { tasks, rollouts, passed, failed, pass_rate, dropped, tokens };
  }
  const mix = parse<MixStageResult>('mix', MixStageResult);
  if (mix) data.mix = await mixData(id, mix, read, warnings);
  const train = parse<TrainStageResult>('train', TrainStageResult);
  if (train) data.train = await trainData(id, train, read, warnings);
  // `evaluate`, or each named evaluation `evaluate.<name>` (the first is the experiment's score)
  for (const node of evaluationNodes(result)) {
    const ev = parse<EvaluateStageResult>(node, EvaluateStageResult);
    if (!ev) continue;
    const s = ev.summary;
    const iv = (c: typeof s.ci95) => (c ? { low: c.low, high: c.high, method: c.method } : null);
    const d: EvaluateData = {
      model: s.model,
      tasks: s.tasks,
      runs: s.runs,
      resolved_rates: s.resolved_rates,
      mean: s.mean,
      ci95: iv(s.ci95),
      ci95_instances: iv(s.ci95_instances),
      baselines: s.baselines.map((b) => ({ name: b.name, mean: b.mean, difference: b.difference })),
    };
    data.evaluate ??= d;
    if (node !== 'evaluate') (data.evaluations ??= []).push({ node, ...d });
  }
  data.midtrain_tokens = midtrainTokens(data);
  const empty = experimentWarnings(result);
  if (empty.length) data.empty_outputs = empty.map((w) => w.message);
  return data;
}

/** Per training stage: the manifest's exact numbers, or the summary's when it cannot be read. */
async function mixData(id: string, mix: MixStageResult, read: ArtifactReader, warnings: string[]): Promise<MixData> {
  const stages: MixStageData[] = [];
  for (const [name, st] of Object.entries(mix.summary.stages)) {
    const ref = mix.artifacts.manifests[name];
    let manifest: MixManifest | undefined;
    if (ref) {
      try {
        manifest = MixManifest.parse(JSON.parse((await read(ref.uri)).toString('utf8')));
      } catch (e) {
        warnings.push(`${id}: mix stage ${name}: cannot read ${ref.uri} (${(e as Error).message}); using the summary`);
      }
    }
    if (manifest) {
      stages.push({
        name,
        from: 'manifest',
        seq_len: manifest.seq_len,
        sequences: manifest.sequences,
        tokens: manifest.tokens,
        content_tokens: manifest.content_tokens,
        eos_tokens: manifest.eos_tokens,
        pad_tokens: manifest.pad_tokens,
        loss_tokens: manifest.loss_tokens,
        documents: manifest.documents,
        sources: manifest.sources,
      });
    } else {
      stages.push({
        name,
        from: 'summary',
        seq_len: null,
        sequences: st.sequences,
        tokens: st.tokens,
        content_tokens: st.content_tokens,
        eos_tokens: null,
        pad_tokens: null,
        loss_tokens: st.loss_tokens,
        documents: st.documents,
        sources: st.sources,
      });
    }
  }
  return { tokenizer: mix.summary.tokenizer, sources: mix.summary.sources, stages };
}

async function trainData(
  id: string,
  train: TrainStageResult,
  read: ArtifactReader,
  warnings: string[]
): Promise<TrainData> {
  const stages: TrainData['stages'] = [];
  for (const st of train.stages) {
    let curve: LossPoint[] = [];
    try {
      curve = lossCurve((await read(st.artifacts.metrics.uri)).toString('utf8'));
    } catch (e) {
      warnings.push(`${id}: train stage ${st.name}: cannot read its metrics (${(e as Error).message})`);
    }
    const m = st.metrics_summary;
    stages.push({
      name: st.name,
      state: st.state,
      steps: m?.steps ?? null,
      tokens: m?.tokens ?? null,
      loss_first: m?.loss_first ?? null,
      loss_last: m?.loss_last ?? null,
      curve,
      job_id: st.jobId,
      checkpoint: st.final_checkpoint,
    });
  }
  return { stages, final_checkpoint: train.final_checkpoint };
}

/**
 * The loss curve of a metrics JSONL: step lines (numeric `step` and finite `loss`, `event` absent
 * or `"step"`, as the train stage's summary counts them), thinned evenly to MAX_CURVE_POINTS.
 */
export function lossCurve(jsonl: string): LossPoint[] {
  const points: LossPoint[] = [];
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      if (
        typeof r.step === 'number' &&
        typeof r.loss === 'number' &&
        Number.isFinite(r.loss) &&
        (r.event === undefined || r.event === 'step')
      )
        points.push({ step: r.step, loss: r.loss });
    } catch {
      // a torn last line or a foreign line
    }
  }
  return thin(points, MAX_CURVE_POINTS);
}

/** Every k-th point so at most `max` remain, always keeping the last. */
export function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % k === 0);
  if ((points.length - 1) % k !== 0) out[out.length - 1] = points[points.length - 1]!;
  return out;
}

/** Training tokens of the mid-training (non-SFT) stages: measured by the trainer, else planned by mix. */
function midtrainTokens(d: ExperimentData): number | null {
  const isMt = (name: string) => !name.startsWith('sft');
  const trained = (d.train?.stages ?? []).filter((s) => isMt(s.name) && s.tokens !== null && s.tokens > 0);
  if (trained.length) return trained.reduce((a, s) => a + s.tokens!, 0);
  const mixed = (d.mix?.stages ?? []).filter((s) => isMt(s.name));
  return mixed.length ? mixed.reduce((a, s) => a + s.tokens, 0) : null;
}
