import { STAGES, TASK_QUEUES, evaluationsOf, type Capability, type ExperimentSpec, type StageName } from '../contracts';

/** What needs each capability: `workflows` or a stage name. Keys in TASK_QUEUES order. */
export type CapabilityNeeds = Partial<Record<Capability, string[]>>;

/**
 * Capabilities one stage of `spec` needs besides `cpu` (which every stage needs: its workflow and
 * bookkeeping activities run there). Mirrors the `taskQueue` of the stage workflows' proxies:
 * build and rollout run containers (docker); train submits Slurm jobs (slurm); evaluate runs the
 * rollout stage (docker) and, for a checkpoint to serve, a Slurm serving job (slurm).
 */
export function stageCapabilities(spec: ExperimentSpec, stage: StageName): Capability[] {
  switch (stage) {
    case 'mine':
    case 'mix':
      return ['cpu'];
    case 'build':
    case 'rollout':
      return ['cpu', 'docker'];
    case 'train':
      return ['cpu', 'slurm'];
    case 'evaluate': {
      // a checkpoint served on the cluster by any of the evaluations needs Slurm
      const served = evaluationsOf(spec.evaluate).some(
        ({ config: e }) => e.policy !== 'replay-gold' && !!e.model && 'checkpoint' in e.model
      );
      return served ? ['cpu', 'docker', 'slurm'] : ['cpu', 'docker'];
    }
  }
}

/**
 * Capabilities an experiment needs, each with what needs it. `stages` narrows to the stages
 * still to run (default: every stage the spec has). `cpu` is always needed: it runs the
 * experiment workflow itself.
 */
export function neededCapabilities(spec: ExperimentSpec, stages?: readonly StageName[]): CapabilityNeeds {
  const wanted = STAGES.filter((s) => spec[s] !== undefined && (!stages || stages.includes(s)));
  const byCap = emptyNeeds();
  byCap.cpu.push('workflows');
  for (const s of wanted) for (const c of stageCapabilities(spec, s)) byCap[c].push(s);
  return orderedNeeds(byCap);
}

/** The union of several experiments' needs (a sweep's arms). */
export function mergeNeeds(all: CapabilityNeeds[]): CapabilityNeeds {
  const byCap = emptyNeeds();
  for (const n of all)
    for (const [c, what] of Object.entries(n) as [Capability, string[]][])
      for (const w of what) if (!byCap[c].includes(w)) byCap[c].push(w);
  return orderedNeeds(byCap);
}

const emptyNeeds = () =>
  Object.fromEntries(Object.keys(TASK_QUEUES).map((c) => [c, [] as string[]])) as Record<Capability, string[]>;

/** Drops empty entries; keeps TASK_QUEUES order and stage order within an entry. */
function orderedNeeds(byCap: Record<Capability, string[]>): CapabilityNeeds {
  const order = ['workflows', ...STAGES] as string[];
  const out: CapabilityNeeds = {};
  for (const c of Object.keys(TASK_QUEUES) as Capability[])
    if (byCap[c].length) out[c] = [...byCap[c]].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return out;
}
