import { ApplicationFailure } from '@temporalio/common';
import { SLURM_FAILURES, SlurmJobState, type SlurmFailureType } from '../../contracts';

/** What a monitor does with a job in a given state. */
export type StateClass = 'active' | 'completed' | 'failed';

/** States after which the job will not run again. Everything else (REQUEUED, PREEMPTED…) is active. */
const TERMINAL: ReadonlySet<SlurmJobState> = new Set([
  'COMPLETED',
  'FAILED',
  'NODE_FAIL',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'CANCELLED',
  'BOOT_FAIL',
  'DEADLINE',
]);

/**
 * Normalises a state as printed by squeue, sacct or slurmrestd: `CANCELLED by 0` → CANCELLED,
 * `OOM` → OUT_OF_MEMORY, short codes (`PD`, `R`, `CG`…) → long names, arrays → the first entry.
 * Unknown words become UNKNOWN (treated as active).
 */
export function normalizeState(raw: unknown): SlurmJobState {
  const first = Array.isArray(raw) ? raw[0] : raw;
  const word = String(first ?? '')
    .trim()
    .split(/[\s+]/)[0]!
    .toUpperCase();
  const alias: Record<string, SlurmJobState> = {
    PD: 'PENDING',
    R: 'RUNNING',
    CF: 'CONFIGURING',
    CG: 'COMPLETING',
    CD: 'COMPLETED',
    F: 'FAILED',
    NF: 'NODE_FAIL',
    TO: 'TIMEOUT',
    OOM: 'OUT_OF_MEMORY',
    CA: 'CANCELLED',
    PR: 'PREEMPTED',
    RQ: 'REQUEUED',
    RH: 'REQUEUE_HOLD',
    S: 'SUSPENDED',
    BF: 'BOOT_FAIL',
    DL: 'DEADLINE',
  };
  const parsed = SlurmJobState.safeParse(word);
  return parsed.success ? parsed.data : (alias[word] ?? 'UNKNOWN');
}

/** True when the job will not run again (requeueable states such as PREEMPTED are not terminal). */
export const isTerminal = (s: SlurmJobState): boolean => TERMINAL.has(s);

/** Active, completed, or failed. */
export function classifyState(s: SlurmJobState): StateClass {
  if (!isTerminal(s)) return 'active';
  return s === 'COMPLETED' ? 'completed' : 'failed';
}

/**
 * Lines that mark a memory kill: jobacct_gather's OverMemoryKill ends the job FAILED, not
 * OUT_OF_MEMORY, so the log decides (cgroup OOM kills print "oom-kill event(s)").
 */
const OOM_LOG = /exceeded (job )?memory limit|oom[-_ ]kill|out of memory|OUT_OF_MEMORY/i;

/** The state to report: a FAILED job whose log shows a memory kill counts as OUT_OF_MEMORY. */
export function refineFinalState(state: SlurmJobState, logTail: readonly string[]): SlurmJobState {
  if (state === 'FAILED' && logTail.some((l) => OOM_LOG.test(l))) return 'OUT_OF_MEMORY';
  return state;
}

/** The ApplicationFailure type of a job that ended in `state`. */
export function failureTypeOf(state: SlurmJobState): SlurmFailureType {
  return (SLURM_FAILURES as Record<string, SlurmFailureType>)[state] ?? SLURM_FAILURES.FAILED;
}

/** Details attached to a job failure. */
export interface JobFailureDetails {
  stage: string;
  jobId: string;
  state: SlurmJobState;
  exitCode: string | null;
  logTail: string[];
}

/** A non-retryable typed failure for a job that did not complete, carrying its log tail. */
export function jobFailure(d: JobFailureDetails): ApplicationFailure {
  const tail = d.logTail.slice(-20).join('\n');
  return ApplicationFailure.create({
    type: failureTypeOf(d.state),
    nonRetryable: true,
    message: `Slurm job ${d.jobId} (${d.stage}) ended ${d.state}${d.exitCode ? ` exit ${d.exitCode}` : ''}\n${tail}`,
    details: [d],
  });
}

/** Parses Slurm durations: `SS`, `MM:SS`, `HH:MM:SS`, `D-HH:MM:SS` (`INVALID`/empty → 0). */
export function parseElapsed(s: string): number {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s.trim());
  if (!m) return 0;
  const [, d, a, b, c] = m;
  const parts = [a, b, c].filter((x): x is string => x !== undefined).map(Number);
  while (parts.length < 3) parts.unshift(0);
  return Number(d ?? 0) * 86400 + parts[0]! * 3600 + parts[1]! * 60 + parts[2]!;
}
