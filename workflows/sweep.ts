import {
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  condition,
  continueAsNew,
  defineQuery,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ExperimentSpec,
  SA,
  SweepSpec,
  expandSweep,
  hash53,
  primaryEvalScore,
  stableJson,
  stageSignatures,
  type ArmState,
  type ArmStatus,
  type ExperimentResult,
  type StageName,
  type SweepProgress,
  type SweepResult,
  INVALID_SPEC,
} from '../contracts';
import { dagSignatures } from '../contracts/dag';
import { experimentWorkflow } from './experiment';
import { mdTable, mdText, mdWorkflowLink } from './markdown';
import { EXPERIMENT_DAG_PATCH, slugId, stageDoneSignal } from './signals';
import { gitSourcePaths } from './stage-inputs';

const { priorArms } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

export const sweepProgressQuery = defineQuery<SweepProgress>('progress');

const STATES: ArmState[] = ['pending', 'waiting', 'running', 'completed', 'reused', 'failed'];

/** The deepest failure message of a child's failure (the arm's own error, not "child failed"). */
function rootMessage(err: unknown): string {
  let e = err as Error | undefined;
  while (e instanceof ChildWorkflowFailure || (e?.cause && !(e instanceof ApplicationFailure)))
    e = e.cause as Error | undefined;
  return e?.message ?? String(err);
}

/** What an arm's finished experiment reports: how each stage was obtained, and its score. */
function armOutcome(result: ExperimentResult): Pick<ArmStatus, 'stages' | 'eval_score'> {
  const stages: ArmStatus['stages'] = {};
  for (const [s, o] of Object.entries(result.stages)) stages[s] = o.status;
  const score = primaryEvalScore(result);
  return { stages, ...(score !== undefined ? { eval_score: score } : {}) };
}

/**
 * An ablation sweep: expands the grid and the listed arms (deterministically) into child
 * experiments `<id>-<NN>` and runs them in a sliding window of `max_parallel`.
 *
 * - Arms share upstream stages through the step cache. An arm whose next stage has the same
 *   inputs as a stage another arm is producing waits for it (the producer signals `stageDone`),
 *   so each shared stage runs once, not once per arm.
 * - A failed arm does not stop the others; the sweep completes with `failed > 0`. Running the
 *   same sweep again reuses arms that completed before (their workflows are COMPLETED) and reruns
 *   only the failed ones.
 * - Children are ABANDONed on close, so a sweep's reset or termination does not kill running
 *   experiments. Large sweeps continue as new after `arms_per_run` arms, once their window drains.
 */
export async function sweepWorkflow(input: SweepSpec): Promise<SweepResult> {
  const info = workflowInfo();
  const sweep = SweepSpec.parse(input);
  // A scheduled run (its workflow id carries the start time) gets arms of its own.
  if (info.workflowId !== sweep.id) sweep.id = slugId(info.workflowId, 90);
  let expanded;
  try {
    expanded = expandSweep(sweep);
  } catch (e) {
    throw ApplicationFailure.create({ type: INVALID_SPEC, nonRetryable: true, message: (e as Error).message });
  }

  // Arms that do not validate fail at once; the rest get their stage signatures (on the DAG: a
  // stage's own config and those of the stages it reads from; before it: every earlier stage's).
  const dag = patched(EXPERIMENT_DAG_PATCH);
  const signaturesOf = (spec: ExperimentSpec): Partial<Record<StageName, string>> | string => {
    if (!dag) return stageSignatures(spec);
    try {
      return dagSignatures(spec, { build: gitSourcePaths(spec) });
    } catch (e) {
      return `invalid spec: ${(e as Error).message}`;
    }
  };
  const specs: (ExperimentSpec | null)[] = [];
  const sigs: Partial<Record<StageName, string>>[] = [];
  const arms: ArmStatus[] = sweep.carry?.arms ?? [];
  for (const a of expanded) {
    const parsed = ExperimentSpec.safeParse(a.spec);
    const sig = parsed.success ? signaturesOf(parsed.data) : '';
    const error = !parsed.success
      ? `invalid spec: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`
      : typeof sig === 'string'
        ? sig
        : undefined;
    specs.push(error === undefined && parsed.success ? parsed.data : null);
    sigs.push(typeof sig === 'string' ? {} : sig);
    if (!sweep.carry)
      arms.push({
        index: a.index,
        id: a.id,
        name: a.name,
        params: a.params,
        state: error === undefined ? 'pending' : 'failed',
        stages: {},
        ...(error === undefined ? {} : { error }),
      });
  }
  const done = new Set<string>(sweep.carry?.done ?? []);
  const specHash = (i: number) => hash53(stableJson(specs[i]));
  /** Signature → index of the arm producing it now. */
  const leader = new Map<string, number>();
  const runs = (sweep.carry?.runs ?? 0) + 1;
  let changes = 0;

  const progress = (): SweepProgress => {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<ArmState, number>;
    for (const a of arms) counts[a.state]++;
    return { sweepId: sweep.id, total: arms.length, counts, arms };
  };
  setHandler(sweepProgressQuery, progress);
  const show = () => {
    const p = progress();
    setCurrentDetails(
      `**${p.total} arms** — ${STATES.filter((s) => p.counts[s])
        .map((s) => `${s} ${p.counts[s]}`)
        .join(', ')}\n` +
        mdTable(
          ['arm', 'name', 'state', 'score'],
          arms.map((a) => [
            mdWorkflowLink(a.id, info.namespace, a.id),
            mdText(a.name),
            a.state,
            a.eval_score === undefined ? '' : `${(a.eval_score * 100).toFixed(1)}%`,
          ])
        )
    );
  };

  const byId = new Map(arms.map((a) => [a.id, a]));
  const markDone = (index: number, stages: Iterable<string>) => {
    for (const s of stages) {
      const sig = sigs[index]?.[s as StageName];
      if (!sig) continue;
      done.add(sig);
      if (leader.get(sig) === index) leader.delete(sig);
    }
  };
  setHandler(stageDoneSignal, ({ experimentId, stage, status }) => {
    const arm = byId.get(experimentId);
    if (!arm) return;
    if (status) arm.stages[stage] = status;
    markDone(arm.index, [stage]);
    changes++;
  });

  upsertSearchAttributes([{ key: SA.SweepId, value: sweep.id }]);

  // First run: arms an earlier run of this sweep completed are reused, not rerun.
  if (!sweep.carry) {
    const pending = arms.filter((a) => a.state === 'pending');
    const prior = await priorArms({ arms: pending.map((a) => ({ id: a.id, specHash: specHash(a.index) })) });
    for (const p of prior) {
      const arm = byId.get(p.id);
      if (!arm) continue;
      Object.assign(
        arm,
        { state: 'reused', stages: p.stages },
        p.eval_score === undefined ? {} : { eval_score: p.eval_score }
      );
      markDone(arm.index, Object.keys(p.stages));
    }
  }
  show();

  /** An arm may start when no other arm is producing a stage it needs. */
  const blockedBy = (i: number): number | null => {
    for (const sig of Object.values(sigs[i] ?? {})) {
      if (done.has(sig)) continue;
      const l = leader.get(sig);
      if (l !== undefined && l !== i) return l;
    }
    return null;
  };

  let running = 0;
  let startedThisRun = 0;
  const start = async (arm: ArmStatus) => {
    const i = arm.index;
    for (const sig of Object.values(sigs[i] ?? {})) if (!done.has(sig) && !leader.has(sig)) leader.set(sig, i);
    arm.state = 'running';
    running++;
    startedThisRun++;
    try {
      const child = await startChild(experimentWorkflow, {
        workflowId: arm.id,
        args: [specs[i]!],
        // The sweep coordinates; it does not own the experiments' lives.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: SA.ExperimentId, value: arm.id },
          { key: SA.SweepId, value: sweep.id },
        ],
        staticSummary: `arm ${arm.name} of sweep ${sweep.id}`,
        // Lets a rerun of the sweep tell whether this arm's finished run is still the arm it wants.
        memo: { specHash: specHash(i) },
      });
      const result = await child.result();
      Object.assign(arm, { state: 'completed' }, armOutcome(result));
      markDone(i, Object.keys(result.stages));
    } catch (err) {
      arm.state = 'failed';
      arm.error = rootMessage(err);
      log.warn('sweep arm failed', { arm: arm.id, error: arm.error });
    } finally {
      // Whatever this arm was producing and did not finish, another arm may now produce.
      for (const [sig, l] of [...leader]) if (l === i) leader.delete(sig);
      running--;
      changes++;
      show();
    }
  };

  const stopStarting = () => startedThisRun >= sweep.arms_per_run || workflowInfo().continueAsNewSuggested;
  for (;;) {
    if (!stopStarting())
      for (const arm of arms) {
        if (running >= sweep.max_parallel || stopStarting()) break;
        if (arm.state !== 'pending' && arm.state !== 'waiting') continue;
        if (blockedBy(arm.index) !== null) {
          arm.state = 'waiting';
          continue;
        }
        void start(arm);
      }
    show();
    const left = arms.some((a) => a.state === 'pending' || a.state === 'waiting');
    if (running === 0 && (!left || stopStarting())) break;
    const seen = changes;
    await condition(() => changes !== seen);
  }

  if (arms.some((a) => a.state === 'pending' || a.state === 'waiting')) {
    log.info('sweep continues as new', { startedThisRun, historyLength: info.historyLength });
    return continueAsNew<typeof sweepWorkflow>({ ...input, carry: { arms, done: [...done], runs } });
  }
  const count = (s: ArmState) => arms.filter((a) => a.state === s).length;
  return {
    sweepId: sweep.id,
    arms,
    completed: count('completed'),
    reused: count('reused'),
    failed: count('failed'),
    runs,
  };
}
