import type {
  ArtifactRef,
  BuildStageResult,
  ExperimentResult,
  ExperimentSpec,
  MineStageResult,
  MixStageResult,
  RolloutStageResult,
  StageName,
} from '../contracts';
import { evaluationsOf } from '../contracts/evaluate-stage';

/** An upstream artifact a stage reads, with the stage that produced it (planStage verifies it). */
export interface StageInput {
  stage: StageName;
  name: string;
  ref: ArtifactRef;
}

/**
 * The upstream artifacts `stage` will read, as startStage hands them to its child: build reads the
 * mine stage's task candidates, rollout (and evaluate with `tasks.from`) the build stage's validated
 * tasks, mix the samples its sources name in `from`, train the mix manifests (planStage follows them
 * to the shards). Never throws: a missing upstream stage is reported by startStage as before.
 */
export function stageInputs(stage: StageName, spec: ExperimentSpec, result: ExperimentResult): StageInput[] {
  const mine = (result.stages.mine?.result as MineStageResult | undefined)?.artifacts;
  const build = (result.stages.build?.result as BuildStageResult | undefined)?.artifacts;
  const rollout = (result.stages.rollout?.result as RolloutStageResult | undefined)?.artifacts;
  const mix = (result.stages.mix?.result as MixStageResult | undefined)?.artifacts;
  const out: StageInput[] = [];
  const add = (from: StageName, name: string, ref: ArtifactRef | undefined) => {
    if (ref) out.push({ stage: from, name, ref });
  };
  switch (stage) {
    case 'build':
      add('mine', 'artifacts.tasks', mine?.tasks);
      break;
    case 'rollout':
      add('build', 'artifacts.tasks', build?.tasks);
      break;
    case 'evaluate':
      if (evaluationsOf(spec.evaluate).some((e) => 'from' in e.config.tasks))
        add('build', 'artifacts.tasks', build?.tasks);
      break;
    case 'mix':
      for (const s of spec.mix?.sources ?? []) {
        if (s.from === undefined) continue;
        const [from, name] = s.from.split('.') as [StageName, string];
        const arts = (from === 'mine' ? mine : rollout) as Record<string, ArtifactRef | undefined> | undefined;
        add(from, `artifacts.${name}`, arts?.[name]);
      }
      break;
    case 'train':
      for (const [name, ref] of Object.entries(mix?.manifests ?? {})) add('mix', `artifacts.manifests.${name}`, ref);
      break;
    case 'mine':
      break;
  }
  return out;
}

/** Local repositories of the mine stage's git sources, by `owner/name` (the build stage reuses them). */
export function gitSourcePaths(spec: ExperimentSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of spec.mine?.sources ?? []) if (s.type === 'git') out[s.repo] = s.path;
  return out;
}
