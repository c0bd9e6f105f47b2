import {
  ActivityCancellationType,
  continueAsNew,
  defineQuery,
  executeChild,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
  ParentClosePolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { MineConfig, MineSource, SA, StoreConfig, parseInput, repoSlug, type MineStageResult } from '../contracts';
import { runWindowed } from './window';

// --- Activities ---

const { minePage } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // minePage heartbeats every few seconds, so a dead worker is noticed quickly and the page retried.
  heartbeatTimeout: '20 seconds',
  // On cancel, wait for the activity to acknowledge (it stops its listing and LLM calls) before
  // the stage reports cancelled.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
});

const { finalizeMine } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 6 },
});

// --- Types ---

/** Input of {@link mineRepoWorkflow}: one source, mined page by page. */
export interface MineRepoInput {
  experimentId: string;
  source: MineSource;
  config: MineConfig;
  store: StoreConfig;
  /** Key prefix of this repository's part files. */
  prefix: string;
  /** Carried across continue-as-new. */
  state?: MineRepoState;
  /**
   * Continue-as-new after this many pages in one run. Defaults to when the server suggests it or
   * the history passes a few thousand events; set low to exercise the path in tests.
   */
  continueAsNewAfterPages?: number;
}

/** Loop state of a repository, small and JSON-plain so it survives continue-as-new. */
export interface MineRepoState {
  cursor: number | null;
  pages: number;
  prsSeen: number;
  samples: number;
  tokens: number;
  /** git: the commit and pull refs the first page listed from, passed to every later page. */
  pin?: { head: string; pullRefs: string };
}

/** What a repository child returns: where its parts are and how many pages it wrote. */
export interface MineRepoResult {
  repo: string;
  prefix: string;
  pages: number;
  prsSeen: number;
  samples: number;
  tokens: number;
}

/** Input of {@link mineStageWorkflow}. */
export interface MineStageInput {
  experimentId: string;
  config: MineConfig;
  store: StoreConfig;
  /** Key prefix of the stage's outputs (from the step-cache plan). */
  prefix: string;
}

/** Live progress of a mine stage or repository. */
export interface MineProgress {
  repos: number;
  reposDone: number;
  prsSeen: number;
  samples: number;
  tokens: number;
}

// --- Queries ---

export const mineProgressQuery = defineQuery<MineProgress>('progress');

/** Continue-as-new after this many events even if the server has not suggested it yet. */
const HISTORY_EVENTS_LIMIT = 4000;

/**
 * Mines one source page by page. Each page is one activity whose output is deterministic for
 * its cursor, so a crash mid-page costs one page of work and never duplicates a sample. Long
 * sources continue-as-new before history grows large.
 */
export async function mineRepoWorkflow(input: MineRepoInput): Promise<MineRepoResult> {
  const source = parseInput(MineSource, input.source, 'mine source');
  const config = parseInput(MineConfig, input.config, 'mine config');
  const state: MineRepoState = input.state ?? {
    cursor: source.type === 'github' ? 1 : 0,
    pages: 0,
    prsSeen: 0,
    samples: 0,
    tokens: 0,
  };
  setHandler(mineProgressQuery, () => ({
    repos: 1,
    reposDone: state.cursor === null ? 1 : 0,
    prsSeen: state.prsSeen,
    samples: state.samples,
    tokens: state.tokens,
  }));

  const startPages = state.pages;
  while (state.cursor !== null) {
    const remaining = source.max_prs === undefined ? Infinity : source.max_prs - state.prsSeen;
    if (remaining <= 0) break;
    const page = state.pages + 1;
    const out = await minePage({
      experimentId: input.experimentId,
      source,
      config,
      store: input.store,
      prefix: input.prefix,
      cursor: state.cursor,
      page,
      limit: Math.min(config.page_size, remaining),
      ...(state.pin ? { pin: state.pin } : {}),
    });
    // Results recorded before pins existed have none: the loop then runs as it did.
    if (out.pin) state.pin = out.pin;
    state.pages = page;
    state.cursor = out.nextCursor;
    state.prsSeen += out.prsSeen;
    state.samples += out.samples;
    state.tokens += out.tokens;
    const info = workflowInfo();
    const pagesThisRun = state.pages - startPages;
    const tooLong =
      info.continueAsNewSuggested ||
      info.historyLength > HISTORY_EVENTS_LIMIT ||
      (input.continueAsNewAfterPages !== undefined && pagesThisRun >= input.continueAsNewAfterPages);
    if (state.cursor !== null && tooLong) {
      await continueAsNew<typeof mineRepoWorkflow>({ ...input, state });
    }
  }
  return { repo: source.repo, prefix: input.prefix, ...state };
}

/**
 * The mine stage: one {@link mineRepoWorkflow} child per source, at most `repo_concurrency` at
 * once, then one activity that concatenates the parts into the stage's artifacts.
 */
export async function mineStageWorkflow(input: MineStageInput): Promise<MineStageResult> {
  const config = parseInput(MineConfig, input.config, 'mine config');
  const progress: MineProgress = { repos: config.sources.length, reposDone: 0, prsSeen: 0, samples: 0, tokens: 0 };
  setHandler(mineProgressQuery, () => progress);
  const me = workflowInfo();

  const results = await runWindowed(config.sources, config.repo_concurrency, async (source, i) => {
    const slug = repoSlug(source.repo);
    const r = await executeChild(mineRepoWorkflow, {
      workflowId: `${me.workflowId}/${i}-${slug}`,
      args: [
        {
          experimentId: input.experimentId,
          source,
          config,
          store: input.store,
          prefix: `${input.prefix}/repos/${i}-${slug}`,
        },
      ],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
      typedSearchAttributes: [
        { key: SA.ExperimentId, value: input.experimentId },
        { key: SA.Stage, value: 'mine' },
      ],
    });
    progress.reposDone++;
    progress.prsSeen += r.prsSeen;
    progress.samples += r.samples;
    progress.tokens += r.tokens;
    setCurrentDetails(
      `repositories ${progress.reposDone}/${progress.repos} · PRs ${progress.prsSeen} · samples ${progress.samples} · tokens ${progress.tokens}`
    );
    return r;
  });

  return finalizeMine({
    experimentId: input.experimentId,
    config,
    store: input.store,
    prefix: input.prefix,
    repos: results.map((r) => ({ prefix: r.prefix, pages: r.pages })),
  });
}
