import {
  ApplicationFailure,
  type ChildWorkflowOptions,
  defineQuery,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  log,
  ParentClosePolicy,
  patched,
  getExternalWorkflowHandle,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ExperimentSpec,
  parseInput,
  SA,
  STAGES,
  type ExperimentResult,
  type StageName,
  type StageOutcome,
  type ArtifactRef,
  type MineStageResult,
  type BuildStageResult,
  type RolloutStageResult,
  type MixUpstream,
  type MixStageResult,
  type TrainStageResult,
  type EvaluateStageResult,
  INVALID_SPEC,
  warningsOfStages,
  EXPERIMENT_ID_TAKEN,
  type DagStatus,
} from '../contracts';
import { dagNodes, dependentsOf, nodeConfig, nodeStage, stageGraph, type StageGraph } from '../contracts/dag';
import { evaluationsOf } from '../contracts/evaluate-stage';
import { mdTable, mdText, mdWorkflowLink } from './markdown';
import { EXPERIMENT_DAG_PATCH, EXPERIMENT_ID_PATCH, slugId, stageDoneSignal, VISIBILITY_PATCH } from './signals';
import { buildStageWorkflow } from './build';
import { rolloutStageWorkflow } from './rollout';
import { mixStageWorkflow } from './mix';
import { trainStageWorkflow } from './train';
import { evaluateStageWorkflow } from './evaluate';
import { mineStageWorkflow } from './mine';
import { gitSourcePaths, stageInputs } from './stage-inputs';

// --- Activities ---

// planStage hashes every artifact a stage consumes (a cache hit's outputs, the stage's inputs):
// minutes for large mixes, so it heartbeats instead of fitting a short limit.
const { planStage } = proxyActivities<Activities>({
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
});

const { recordStage } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

const { experimentIdHolder } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

// --- Queries ---

/** Status of one stage as the progress query reports it. */
export type StageStatus =
  'pending' | 'planning' | 'running' | 'cached' | 'completed' | 'failed' | 'skipped' | 'not_started' | 'cancelled';

/** What the `progress` query returns. */
export interface ExperimentProgress {
  experimentId: string;
  /** The first running node (the earliest in the graph's order); see `running` for all. */
  current: string | null;
  /** Stages running now (several when independent branches run side by side). */
  running?: string[];
  /** By node: a stage, or `evaluate.<name>` for a named evaluation. */
  stages: Record<string, StageStatus>;
  /** The nodes each node reads from (the experiment's DAG); absent for runs started before it. */
  needs?: Record<string, string[]>;
  /** Workflow id of each stage child, for drilling down in the UI. */
  children: Record<string, string>;
}

export const progressQuery = defineQuery<ExperimentProgress>('progress');

/** The build stage's validated tasks, which the rollout stage works on. */
function validatedTasks(result: ExperimentResult): ArtifactRef {
  const build = result.stages.build?.result as BuildStageResult | undefined;
  if (!build)
    throw invalidSpec('rollout: the experiment has no build stage to take validated tasks from (add `build`)');
  return build.artifacts.tasks;
}

const invalidSpec = (message: string) => ApplicationFailure.create({ type: INVALID_SPEC, nonRetryable: true, message });

/**
 * The upstream artifacts the mix stage's sources name in `from` (`mine.general`, `rollout.pass`,
 * ...), taken from the stages that ran before it; a missing one is a spec error naming the source.
 */
function mixInputs(spec: ExperimentSpec, result: ExperimentResult): Record<string, ArtifactRef> {
  const mine = (result.stages.mine?.result as MineStageResult | undefined)?.artifacts;
  const rollout = (result.stages.rollout?.result as RolloutStageResult | undefined)?.artifacts;
  const available: Partial<Record<MixUpstream, ArtifactRef>> = {
    ...(mine?.general ? { 'mine.general': mine.general } : {}),
    ...(mine?.python ? { 'mine.python': mine.python } : {}),
    ...(rollout ? { 'rollout.pass': rollout.pass, 'rollout.fail': rollout.fail } : {}),
  };
  const inputs: Record<string, ArtifactRef> = {};
  for (const [i, s] of (spec.mix?.sources ?? []).entries()) {
    if (s.from === undefined) continue;
    const ref = available[s.from];
    if (!ref) {
      const stage = s.from.split('.')[0]!;
      throw invalidSpec(
        `mix.sources[${i}].from: "${s.from}" is not available: the experiment has no ${stage} stage ` +
          (stage === 'mine' ? 'producing that format (add it to mine.formats)' : '(add one, or use a path)')
      );
    }
    inputs[s.from] = ref;
  }
  return inputs;
}

/**
 * One experiment: runs each configured stage as its own child workflow (`<id>/<stage>`, so a
 * single stage can be reset from the UI), reusing results from the cross-run step cache unless
 * the spec forces a rerun. Cancelling it cancels the running child and its activities.
 */
export async function experimentWorkflow(rawSpec: ExperimentSpec): Promise<ExperimentResult> {
  const spec = parseInput(ExperimentSpec, rawSpec, 'experiment spec');
  const info = workflowInfo();
  // Started under another id (a schedule's run, the Web UI): that id names this run's children.
  if (info.workflowId !== spec.id) spec.id = slugId(info.workflowId, 100);
  const progress: ExperimentProgress = { experimentId: spec.id, current: null, stages: {}, children: {} };
  // The graph's nodes: the stages, each named evaluation its own (`evaluate.<name>`).
  const enabled = dagNodes(spec);
  for (const s of STAGES) if (!enabled.some((n) => nodeStage(n) === s)) progress.stages[s] = 'skipped';
  for (const n of enabled) progress.stages[n] = 'pending';
  setHandler(progressQuery, () => progress);
  // The run behind each stage, linked from the details: its child, or the run the cache took it from.
  const runs: Record<string, { workflowId: string; runId?: string }> = {};
  const headline = () => {
    const active = enabled.filter((s) => ['planning', 'running'].includes(progress.stages[s] ?? ''));
    progress.running = active;
    progress.current = active[0] ?? null;
    if (active.length) return active.map((s) => `${s} ${progress.stages[s]}`).join(', ');
    if (enabled.some((s) => progress.stages[s] === 'failed')) return 'failed';
    return enabled.every((s) => progress.stages[s] === 'cached' || progress.stages[s] === 'completed')
      ? 'done'
      : 'starting';
  };
  // Live details for the Web UI's "Current Details" panel, as Markdown (not recorded in history).
  const show = () =>
    setCurrentDetails(
      `**${mdText(spec.id)}**: ${headline()}\n` +
        mdTable(
          // on the DAG, what each stage waits for: the stages it reads from
          progress.needs ? ['stage', 'reads from', 'status', 'workflow run'] : ['stage', 'status', 'workflow run'],
          enabled.map((s) => {
            const r = runs[s];
            return [
              s,
              ...(progress.needs ? [(progress.needs[s] ?? []).join(', ') || '—'] : []),
              progress.stages[s] ?? '',
              r ? mdWorkflowLink(r.workflowId, info.namespace, r.workflowId, r.runId) : '',
            ];
          })
        )
    );
  show();

  // Two workflow ids with one experiment id would share child workflows (<id>/<stage>) and the
  // store's experiments/<id>/ folder: the later one is refused before it plans any stage.
  if (patched(EXPERIMENT_ID_PATCH)) {
    const holder = await experimentIdHolder({ experimentId: spec.id, workflowId: info.workflowId });
    if (holder) {
      // A refused run does not hold the id (`bottega run` starts it with ExperimentId set).
      upsertSearchAttributes([{ key: SA.ExperimentId, value: null }]);
      throw ApplicationFailure.create({
        type: EXPERIMENT_ID_TAKEN,
        nonRetryable: true,
        message:
          `experiment id "${spec.id}" of workflow "${info.workflowId}" is already used by workflow ` +
          `"${holder.workflowId}" (run ${holder.runId}, ${holder.status}); its stages and artifacts ` +
          `(${spec.id}/<stage>, experiments/${spec.id}/ in the store) would be mixed with this run's. ` +
          `Start this run under another id, or rerun "${holder.workflowId}" itself.`,
      });
    }
  }

  upsertSearchAttributes([
    { key: SA.ExperimentId, value: spec.id },
    ...(spec.sweep_id ? [{ key: SA.SweepId, value: spec.sweep_id }] : []),
  ]);
  const model = baseModelOf(spec);
  if (model && patched(VISIBILITY_PATCH)) upsertSearchAttributes([{ key: SA.BaseModel, value: model }]);

  const result: ExperimentResult = { experimentId: spec.id, stages: {} };
  const memo: Record<string, Record<string, string>> = {};
  const firstEvaluation = enabled.find((n) => nodeStage(n) === 'evaluate');

  /**
   * Plans `node` (its step-cache key from its config, environment and `keyUpstream`), takes it
   * from the cache or runs its child workflow `<id>/<node>`, and records the outcome. Throws what
   * the stage threw. A named evaluation runs the evaluate stage on a spec holding only its config.
   */
  const runStage = async (
    node: string,
    keyUpstream: ArtifactRef[],
    keyExtra?: Record<string, unknown>
  ): Promise<StageOutcome> => {
    const stage = nodeStage(node);
    const view: ExperimentSpec =
      node === stage ? spec : { ...spec, evaluate: nodeConfig(spec, node) as ExperimentSpec['evaluate'] };
    progress.stages[node] = 'planning';
    show();
    upsertSearchAttributes([{ key: SA.Stage, value: stage }]);
    const inputs = stageInputs(stage, view, result);
    const plan = await planStage({
      experimentId: spec.id,
      stage,
      spec: view,
      upstream: keyUpstream,
      inputs,
      ...(keyExtra ? { keyExtra } : {}),
      ...(node !== stage ? { node } : {}),
    });
    let outcome: StageOutcome;
    if (plan.hit) {
      progress.stages[node] = 'cached';
      runs[node] = plan.hit.producer;
      show();
      log.info('stage reused from the step cache', { stage: node, producer: plan.hit.producer });
      outcome = { status: 'cached', cacheKey: plan.key, producer: plan.hit.producer, result: plan.hit.result };
    } else {
      progress.stages[node] = 'running';
      const workflowId = `${spec.id}/${node}`;
      progress.children[node] = workflowId;
      show();
      try {
        const options = {
          workflowId,
          // A cancelled experiment cancels its stage (and through it, the stage's activities).
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          typedSearchAttributes: [
            { key: SA.ExperimentId, value: spec.id },
            { key: SA.Stage, value: stage },
          ],
          staticSummary: `${node} stage of ${spec.id}`,
        };
        const common = { experimentId: spec.id, store: spec.store, prefix: plan.prefix };
        const child = await startStage(stage, view, result, { ...options, common });
        runs[node] = { workflowId, runId: child.firstExecutionRunId };
        show();
        const stageResult: unknown = await child.result();
        const producer = { workflowId, runId: child.firstExecutionRunId };
        await recordStage({ stage, key: plan.key, store: spec.store, result: stageResult, producer });
        outcome = { status: 'ran', cacheKey: plan.key, producer, result: stageResult };
        progress.stages[node] = 'completed';
        show();
      } catch (err) {
        progress.stages[node] = 'failed';
        show();
        throw err;
      }
    }
    result.stages[node] = outcome;
    const refs = artifactRefsIn(outcome.result);
    memo[node] = Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, r.uri]));
    upsertMemo({ artifacts: memo, [`${node}Producer`]: outcome.producer });
    if (patched(VISIBILITY_PATCH)) {
      // EvalScore: the (first) evaluation's mean
      const attrs = stage !== 'evaluate' || node === firstEvaluation ? visibilityOf(stage, outcome) : [];
      if (attrs.length) upsertSearchAttributes(attrs);
      // In a sweep: arms waiting for this stage's inputs can now take it from the step cache.
      if (info.parent)
        await getExternalWorkflowHandle(info.parent.workflowId)
          .signal(stageDoneSignal, { experimentId: spec.id, stage: node, status: outcome.status })
          .catch((e: unknown) => log.warn('could not signal the sweep', { error: String(e) }));
    }
    return outcome;
  };

  if (patched(EXPERIMENT_DAG_PATCH)) {
    let graph: StageGraph;
    try {
      graph = stageGraph(spec);
    } catch (e) {
      throw invalidSpec(`experiment graph: ${(e as Error).message}`);
    }
    progress.needs = graph.needs;
    await runGraph(graph, spec, result, progress, show, runStage);
  } else {
    // Experiments started before the DAG: one stage after another, each keyed on every earlier
    // stage's artifacts.
    const upstream: ArtifactRef[] = [];
    for (const stage of enabled) {
      progress.current = stage;
      const outcome = await runStage(stage, [...upstream]);
      upstream.push(...Object.values(artifactRefsIn(outcome.result)));
    }
  }
  progress.current = null;
  show();
  // Stages that completed but produced nothing (from their counts): in the result for
  // `bottega run --wait [--strict]` and the report. Pure computation: no command, replay-safe.
  result.warnings = warningsOfStages(result.stages);
  for (const w of result.warnings) log.warn('stage produced nothing', { experimentId: spec.id, ...w });
  log.info('experiment finished', { experimentId: spec.id, run: info.runId, warnings: result.warnings.length });
  return result;
}

/**
 * Runs the experiment's graph: each stage starts as soon as every stage it reads from is done
 * (`schedule: chain`: one stage at a time, in the graph's order), keyed on the artifacts of those
 * stages only. A failed stage marks everything that reads from it (directly or not) not started;
 * independent branches finish, or with `on_failure: cancel` are cancelled. When all have settled,
 * `result.dag` says what happened to each stage, and the first failure is rethrown as it came
 * (so a failed experiment fails with its stage's error, and the finished branches' results are in
 * the step cache for a rerun).
 */
async function runGraph(
  graph: StageGraph,
  spec: ExperimentSpec,
  result: ExperimentResult,
  progress: ExperimentProgress,
  show: () => void,
  runStage: (node: string, keyUpstream: ArtifactRef[], keyExtra?: Record<string, unknown>) => Promise<StageOutcome>
): Promise<void> {
  const root = CancellationScope.current();
  const state = Object.fromEntries(graph.order.map((s) => [s, 'waiting'])) as Record<string, DagStatus>;
  const failures: { stage: string; error: unknown }[] = [];
  const scopes = new Map<string, CancellationScope>();
  const repoPaths = gitSourcePaths(spec);
  let changes = 0;
  let cancelling = false;
  const running = () => graph.order.filter((s) => state[s] === 'running');
  const notStarted = (s: string) => {
    if (state[s] !== 'waiting') return;
    state[s] = 'not_started';
    progress.stages[s] = 'not_started';
  };
  const settle = (node: string, error: unknown) => {
    if ((cancelling || root.consideredCancelled) && isCancellation(error)) {
      state[node] = 'cancelled';
      progress.stages[node] = 'cancelled';
    } else {
      state[node] = 'failed';
      // (a stage failing while planning has not set its progress yet)
      progress.stages[node] = 'failed';
      failures.push({ stage: node, error });
      log.warn('stage failed', { stage: node, error: String(error) });
    }
    for (const d of dependentsOf(graph, node)) notStarted(d);
    if (spec.on_failure === 'cancel' && !cancelling && state[node] === 'failed') {
      cancelling = true;
      graph.order.forEach(notStarted);
      for (const [s, scope] of scopes) if (s !== node) scope.cancel();
    }
  };
  const launch = (node: string) => {
    state[node] = 'running';
    // The node's key covers what it reads: the artifacts of the stages it reads from, and for
    // build the local repositories of the mine stage's git sources (which it clones from).
    const keyUpstream = graph.needs[node]!.flatMap((n) => Object.values(artifactRefsIn(result.stages[n]!.result)));
    // A named evaluation's name is in its key: two with the same config must not share one output prefix.
    const keyExtra =
      node === 'build' && Object.keys(repoPaths).length
        ? { repoPaths }
        : node.startsWith('evaluate.')
          ? { evaluation: node.slice('evaluate.'.length) }
          : undefined;
    const scope = new CancellationScope();
    scopes.set(node, scope);
    scope
      .run(() => runStage(node, keyUpstream, keyExtra))
      .then(
        (o) => void (state[node] = o.status),
        (e: unknown) => settle(node, e)
      )
      .finally(() => {
        scopes.delete(node);
        changes++;
      });
  };
  for (;;) {
    for (const s of graph.order) {
      if (state[s] !== 'waiting') continue;
      if (cancelling || root.consideredCancelled) {
        notStarted(s);
        continue;
      }
      if (!graph.needs[s]!.every((n) => state[n] === 'ran' || state[n] === 'cached')) continue;
      if (spec.schedule === 'chain' && running().length) break;
      launch(s);
    }
    show();
    if (!running().length) break;
    const seen = changes;
    // Not cancellable: on cancel, the stages' scopes are cancelled and this waits for them to settle.
    await CancellationScope.nonCancellable(() => condition(() => changes !== seen));
  }
  result.dag = { needs: graph.needs, status: state };
  upsertMemo({ dag: state });
  show();
  const failed = failures.find((f) => !isCancellation(f.error)) ?? failures[0];
  if (failed) {
    log.warn('experiment failed', { stage: failed.stage, dag: state });
    throw failed.error;
  }
  if (root.consideredCancelled) throw new CancelledFailure('experiment cancelled');
}

/** The model an experiment starts from, for the BaseModel search attribute. */
function baseModelOf(spec: ExperimentSpec): string | undefined {
  const t = spec.train;
  if (t) return t.base_model ?? t.model_config;
  const m = evaluationsOf(spec.evaluate)[0]?.config.model;
  return m && 'model' in m ? m.model : undefined;
}

/** Search attributes a stage's outcome sets: the dataset's identity after mix, the score after evaluate. */
function visibilityOf(stage: StageName, outcome: StageOutcome) {
  if (stage === 'mix') return [{ key: SA.DatasetVersion, value: `mix-${outcome.cacheKey.slice(0, 12)}` }];
  if (stage === 'evaluate') {
    const mean = (outcome.result as EvaluateStageResult).summary.mean;
    return [{ key: SA.EvalScore, value: mean }];
  }
  return [];
}

type ChildOptions = Pick<
  ChildWorkflowOptions,
  'workflowId' | 'parentClosePolicy' | 'typedSearchAttributes' | 'staticSummary'
>;

/** Starts the child workflow of `stage` with its inputs taken from the spec and earlier stages. */
async function startStage(
  stage: StageName,
  spec: ExperimentSpec,
  result: ExperimentResult,
  o: ChildOptions & { common: { experimentId: string; store: ExperimentSpec['store']; prefix: string } }
) {
  const { common, ...options } = o;
  switch (stage) {
    case 'mine':
      return startChild(mineStageWorkflow, { ...options, args: [{ ...common, config: spec.mine! }] });
    case 'build':
      return startChild(buildStageWorkflow, {
        ...options,
        args: [
          {
            ...common,
            config: spec.build!,
            mineTasks: (result.stages.mine?.result as MineStageResult | undefined)?.artifacts.tasks ?? null,
            repoPaths: gitSourcePaths(spec),
          },
        ],
      });
    case 'rollout':
      return startChild(rolloutStageWorkflow, {
        ...options,
        args: [{ ...common, config: spec.rollout!, tasks: validatedTasks(result) }],
      });
    case 'mix':
      return startChild(mixStageWorkflow, {
        ...options,
        args: [{ ...common, config: spec.mix!, inputs: mixInputs(spec, result) }],
      });
    case 'train': {
      const mix = result.stages.mix?.result as MixStageResult | undefined;
      if (!mix) throw invalidSpec('train: the experiment has no mix stage to take shards from (add `mix`)');
      return startChild(trainStageWorkflow, {
        ...options,
        args: [{ ...common, config: spec.train!, manifests: mix.artifacts.manifests }],
      });
    }
    case 'evaluate': {
      // one evaluation: a named one's node runs with a spec holding only its config
      const cfg = evaluationsOf(spec.evaluate)[0]!.config;
      const train = result.stages.train?.result as TrainStageResult | undefined;
      return startChild(evaluateStageWorkflow, {
        ...options,
        args: [
          {
            ...common,
            config: cfg,
            // From the build stage, or (tasks.path) read by the stage itself.
            ...('from' in cfg.tasks ? { tasks: validatedTasks(result) } : {}),
            ...(train ? { checkpoint: train.final_checkpoint } : {}),
          },
        ],
      });
    }
  }
}

/**
 * ArtifactRef-shaped values (uri + sha256) in a stage result, by dotted path: for the memo and to
 * key downstream stages on upstream content.
 */
function artifactRefsIn(value: unknown, out: Record<string, ArtifactRef> = {}, path = ''): Record<string, ArtifactRef> {
  if (value && typeof value === 'object') {
    const v = value as Partial<ArtifactRef>;
    if (typeof v.uri === 'string' && typeof v.sha256 === 'string') out[path] = v as ArtifactRef;
    else for (const [k, x] of Object.entries(value)) artifactRefsIn(x, out, path ? `${path}.${k}` : k);
  }
  return out;
}
