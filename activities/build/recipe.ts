import { InstallConfig, type InstallConfigPatch } from '../../contracts/task';
import { detectPythonRecipe, type RepoView } from './heuristics';
import { offlineBlockers, officialRecipe, officialVersions, type OfficialRecipe } from './official-recipe';
import { normalizeInstallConfig } from './task-io';

export type { RepoView } from './heuristics';

/** Where a resolved recipe came from. */
export type RecipeSource = 'record' | 'spec' | 'official' | 'heuristic';

/** The parts of a task the resolver reads (a TaskRecord or a mine-stage TaskCandidate both fit). */
export interface RecipeTask {
  instance_id?: string;
  /** `owner/name`: the key into the spec's recipe table. */
  repo: string;
  /** Commit date, used to guess the Python version when nothing else tells. */
  created_at?: string;
  /** The record's own recipe, SWE-rebench spelling accepted; `null` counts as absent. */
  install_config?: unknown;
  /** SWE-bench's version key: with `repo`, selects the official spec. */
  version?: string;
}

/** What {@link resolveRecipe} returns. `notes` explain each decision (shown when a task fails). */
export type RecipeResolution =
  | {
      config: InstallConfig;
      source: RecipeSource;
      notes: string[];
      /** The official recipe the config is (or was merged over), when the table has the task. */
      official?: OfficialRecipe;
    }
  | { config: null; reason: string; notes: string[]; official?: OfficialRecipe };

/**
 * Chooses how to build and test a task, in this order:
 * 1. the record's own `install_config` (normalised; if it is invalid the task fails rather than
 *    silently building some other way);
 * 2. the spec's recipe for the repository, merged over the official recipe when there is one,
 *    else over what the heuristics detect (a recipe that gives `test_cmd` and `log_parser` also
 *    stands on its own when the heuristics find nothing);
 * 3. the official SWE-bench recipe of the record's (repo, version) (official-recipe.ts);
 * 4. heuristics on the repository's files at the environment-setup commit.
 *
 * An official recipe (alone or under a spec recipe) that needs what this build lacks (a network
 * for apt or downloads, conda) is refused with the steps named, rather than replaced by heuristics.
 * `repo` is read only when steps 2–4 need it; without it they report a reason instead.
 */
export function resolveRecipe(args: {
  task: RecipeTask;
  recipes?: Record<string, InstallConfigPatch>;
  repo?: RepoView;
  /** Use the official SWE-bench table (default true). */
  official?: boolean;
  /** Whether the environment build has a network (apt, downloads); default false. */
  network?: boolean;
}): RecipeResolution {
  const { task, recipes = {}, repo, network = false } = args;

  if (task.install_config != null) {
    const n = normalizeInstallConfig(task.install_config);
    if (!n.ok) {
      const what = n.problems.map(
        (p) => `${p.path === '' ? 'install_config' : `install_config.${p.path}`}: ${p.message}`
      );
      return {
        config: null,
        reason: `the record's install_config is invalid (${what.join('; ')})`,
        notes: ["the record carries an install_config, so the spec's recipes and heuristics were not tried"],
      };
    }
    return { config: n.config, source: 'record', notes: ["from the record's install_config", ...n.notes] };
  }

  const patch = Object.hasOwn(recipes, task.repo) ? recipes[task.repo] : undefined;
  const official = args.official === false ? undefined : officialRecipe(task, repo);
  if (official) return fromOfficial(task, official, patch, network);
  const versions = args.official === false ? [] : officialVersions(task.repo);
  const missNote =
    versions.length > 0
      ? [
          `no official SWE-bench spec for ${task.repo} version ${JSON.stringify(task.version ?? null)} (known: ${versions.join(', ')})`,
        ]
      : [];

  const detect = () => {
    const r = repo
      ? detectPythonRecipe(repo, { createdAt: task.created_at })
      : { config: null, reason: 'no repository view to detect a recipe from', notes: [] as string[] };
    return { ...r, notes: [...missNote, ...r.notes] };
  };

  if (patch) {
    const given = Object.keys(patch).filter((k) => patch[k as keyof InstallConfigPatch] !== undefined);
    const found = detect();
    const specNote = `the spec's recipe for ${task.repo} sets ${given.join(', ') || 'nothing'}`;
    if (found.config) {
      const merged = InstallConfig.parse({
        ...found.config,
        ...definedOnly(patch),
        env_vars: { ...found.config.env_vars, ...(patch.env_vars ?? {}) },
      });
      return {
        config: merged,
        source: 'spec',
        notes: [specNote, ...found.notes.map((n) => `heuristic: ${n}`)],
      };
    }
    const alone = InstallConfig.safeParse(definedOnly(patch));
    if (alone.success) {
      return {
        config: alone.data,
        source: 'spec',
        notes: [specNote, `heuristics found nothing to merge with (${found.reason})`],
      };
    }
    const missing = (['test_cmd', 'log_parser'] as const).filter((k) => patch[k] === undefined);
    return {
      config: null,
      reason: `the spec's recipe for ${task.repo} lacks ${missing.join(' and ')}, and the heuristics found nothing to complete it: ${found.reason}`,
      notes: [specNote, ...found.notes],
    };
  }

  const found = detect();
  if (found.config) return { config: found.config, source: 'heuristic', notes: found.notes };
  return { config: null, reason: found.reason, notes: found.notes };
}

/** The official recipe, with the spec's recipe merged over it; refused while a blocker is left. */
function fromOfficial(
  task: RecipeTask,
  official: OfficialRecipe,
  patch: InstallConfigPatch | undefined,
  network: boolean
): RecipeResolution {
  const notes = [...official.notes, ...official.deviations.map((d) => `deviation: ${d}`)];
  let config = official.config;
  if (patch) {
    const given = Object.keys(patch).filter((k) => patch[k as keyof InstallConfigPatch] !== undefined);
    notes.unshift(`the spec's recipe for ${task.repo} sets ${given.join(', ') || 'nothing'}, over the official spec`);
    config = InstallConfig.parse({
      ...config,
      ...definedOnly(patch),
      env_vars: { ...config.env_vars, ...(patch.env_vars ?? {}) },
    });
  }
  // A spec recipe that sets how dependencies are installed takes over what the official spec could not do.
  const takesOver = patch && (patch.pre_install ?? patch.reqs_path ?? patch.pip_packages) !== undefined;
  const blockers = [...(takesOver ? [] : official.unsupported), ...offlineBlockers(config, { network })];
  if (blockers.length > 0) {
    return {
      config: null,
      official,
      notes,
      reason:
        `the official SWE-bench spec for ${task.repo} ${task.version ?? ''} cannot be built here: ${blockers.join('; ')}. ` +
        `Give the record an install_config, or set build.recipes["${task.repo}"] to replace those steps` +
        (network ? '' : ' (or set build.pip_index_url: the build then has a network)'),
    };
  }
  return { config, source: patch ? 'spec' : 'official', notes, official };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
