import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import {
  ArtifactRef,
  MineConfig,
  MineSource,
  MineStageResult,
  MineSummary,
  StoreConfig,
  parseInput,
  type PrRecord,
} from '../../contracts';
import { withHeartbeats } from '../heartbeat';
import { loggerFor } from '../logger';
import { readSecret } from '../secrets';
import { openStore, type ArtifactStore } from '../store/artifact-store';
import { enhancePr } from './enhance';
import { isDecontaminatedRepo } from './filters';
import { listGitPrs, type GitNotPr, type GitPin, type GitPrOrigin } from './git-source';
import { listGithubPrs } from './github-source';
import { processPr, type PrDecision } from './process-pr';
import { PageTally } from './tally';
import { getTokenizer } from './tokenizer';

/** Dependencies of the mine activities. */
export interface MineDeps {
  /** Directory for caches that persist across runs (GitHub responses). */
  cacheDir: string;
  env: NodeJS.ProcessEnv;
}

/** Input of one page of one source. */
export interface MinePageInput {
  experimentId: string;
  source: MineSource;
  config: MineConfig;
  store: StoreConfig;
  /** Key prefix of this repository's part files. */
  prefix: string;
  /** Source cursor: git = index of the first merge to read; github = 1-based page number. */
  cursor: number;
  /** 1-based page index; names the part files. */
  page: number;
  /** Read at most this many PRs (page size, less when max_prs is near). */
  limit: number;
  /** git: what the first page listed from (its output's `pin`), so every page lists the same history. */
  pin?: GitPin;
}

/** What one page produced. */
export interface MinePageOutput {
  nextCursor: number | null;
  prsSeen: number;
  samples: number;
  tokens: number;
  /** git: pass to the next page. */
  pin?: GitPin;
}

/** Part-file names of one page. */
const PART_KINDS = ['python', 'general', 'tasks', 'decisions'] as const;
const partKey = (prefix: string, page: number, kind: string) =>
  `${prefix}/page-${String(page).padStart(6, '0')}.${kind}.${kind === 'summary' ? 'json' : 'jsonl'}`;

/** A page of PRs, with how a git source found them and what it found that is not a PR. */
interface ListedPage {
  prs: PrRecord[];
  nextCursor: number | null;
  pin?: GitPin;
  origins?: GitPrOrigin[];
  notPrs?: GitNotPr[];
  pullRefsNotMerged?: number;
}

async function listPage(
  source: MineSource,
  page: { cursor: number; limit: number; maxRelevantFiles: number; pin?: GitPin },
  deps: MineDeps
): Promise<ListedPage> {
  if (source.type === 'git') return listGitPrs(source, page);
  const token = readSecret(deps.env, source.token_env);
  const logger = loggerFor({ stage: 'mine', activity: 'minePage', repo: source.repo });
  return listGithubPrs(source, { ...page, token, cacheDir: join(deps.cacheDir, 'github'), logger });
}

/** Creates the mine stage's activities. */
export function createMineActivities(deps: MineDeps) {
  return {
    /**
     * Mines one page of one source: list PRs, filter, enhance, render, tokenize, gate, and write
     * the page's part files. Deterministic for a given cursor, so a retry after a crash rewrites
     * identical parts: nothing is lost or duplicated. Heartbeats carry the cursor.
     */
    async minePage(raw: MinePageInput): Promise<MinePageOutput> {
      const config = parseInput(MineConfig, raw.config, 'mine config');
      const source = parseInput(MineSource, raw.source, 'mine source');
      const storeCfg = parseInput(StoreConfig, raw.store, 'store config');
      const ctx = Context.current();
      const log = loggerFor({ experimentId: raw.experimentId, stage: 'mine', activity: 'minePage', repo: source.repo });
      const store = openStore(storeCfg, deps.env);
      const tally = new PageTally();

      let prs: PrRecord[] = [];
      let nextCursor: number | null = null;
      let listed: ListedPage = { prs, nextCursor };
      if (source.type === 'github' && isDecontaminatedRepo(source.repo, config.filters)) {
        // Repo-level decontamination: do not spend API quota on a repository we would drop whole.
        log.info('repository is on the decontamination list; skipped without listing');
      } else {
        const listing = listPage(
          source,
          {
            cursor: raw.cursor,
            limit: raw.limit,
            maxRelevantFiles: config.max_relevant_files,
            ...(raw.pin ? { pin: raw.pin } : {}),
          },
          deps
        );
        listed = await withHeartbeats(() => ({ cursor: raw.cursor, page: raw.page, step: 'listing' }), listing);
        ({ prs, nextCursor } = listed);
      }
      // Repository-level: counted on the first page only (a retried page rewrites the same summary).
      if (raw.cursor === 0) tally.pullRefsNotMerged += listed.pullRefsNotMerged ?? 0;

      if (config.enhance.enabled) {
        const apiKey = readSecret(deps.env, config.enhance.api_key_env);
        const limit = pLimit(config.enhance.concurrency);
        const enhancing = Promise.all(
          prs.map(async (pr) => {
            // Only PRs that pass the cheap filters are worth LLM calls.
            if (!pr.merged && config.filters.merged_only) return pr;
            const r = await enhancePr(pr, config.enhance, { apiKey, limit, signal: ctx.cancellationSignal });
            tally.enhance.calls += r.calls;
            tally.enhance.failures += r.failures;
            for (const [k, v] of Object.entries(r.failureReasons)) tally.add(tally.enhance.failure_reasons, k, v);
            return r.pr;
          })
        );
        prs = await withHeartbeats(() => ({ cursor: raw.cursor, page: raw.page, step: 'enhancing' }), enhancing);
      }

      const tokenizer = await getTokenizer(config.tokenizer);
      const out: Record<(typeof PART_KINDS)[number], string[]> = { python: [], general: [], tasks: [], decisions: [] };
      prs.forEach((pr, i) => {
        const r = processPr(pr, config, tokenizer, tally);
        const origin = listed.origins?.[i];
        tally.add(tally.prsFound, origin?.shape ?? 'api');
        if (origin) {
          tally.duplicatesMerged += origin.found_as.length - 1 + origin.duplicate_commits.length;
          Object.assign(r.decision, origin);
        }
        for (const s of r.samples) out[s.format].push(JSON.stringify(s));
        if (r.task) out.tasks.push(JSON.stringify(r.task));
        out.decisions.push(JSON.stringify(r.decision));
        ctx.heartbeat({ cursor: raw.cursor, page: raw.page, done: i + 1 });
      });
      for (const n of listed.notPrs ?? []) {
        tally.add(tally.notPrs, n.reason);
        const decision: PrDecision = {
          repo: source.repo,
          number: n.number,
          kept: false,
          reasons: [n.reason],
          samples: [],
          task_candidate: false,
          not_pr: { commit: n.commit, subject: n.subject },
        };
        out.decisions.push(JSON.stringify(decision));
      }

      for (const kind of PART_KINDS) {
        const lines = out[kind];
        await store.put(partKey(raw.prefix, raw.page, kind), lines.length ? lines.join('\n') + '\n' : '');
      }
      const summary = tally.toSummary();
      await store.put(partKey(raw.prefix, raw.page, 'summary'), JSON.stringify(summary) + '\n', { records: null });
      log.info({ page: raw.page, prs: prs.length, samples: summary.samples, tokens: summary.tokens }, 'page mined');
      return {
        nextCursor,
        prsSeen: summary.prs_seen,
        samples: summary.samples,
        tokens: summary.tokens,
        ...(listed.pin ? { pin: listed.pin } : {}),
      };
    },

    /**
     * Concatenates every page's parts, in repository then page order, into the stage's final
     * artifacts and sums the page summaries. Streams through a temp file, so memory stays flat.
     */
    async finalizeMine(input: {
      experimentId: string;
      config: MineConfig;
      store: StoreConfig;
      prefix: string;
      repos: { prefix: string; pages: number }[];
    }): Promise<MineStageResult> {
      const config = parseInput(MineConfig, input.config, 'mine config');
      const storeCfg = parseInput(StoreConfig, input.store, 'store config');
      const store = openStore(storeCfg, deps.env);
      const ctx = Context.current();
      const tally = new PageTally();
      const tmp = await mkdtemp(join(tmpdir(), 'bottega-mine-'));
      try {
        const refs: Partial<Record<(typeof PART_KINDS)[number], ArtifactRef>> = {};
        for (const kind of PART_KINDS) {
          if ((kind === 'python' || kind === 'general') && !config.formats.includes(kind)) continue;
          if (kind === 'tasks' && !config.task_candidates) continue;
          const file = join(tmp, kind);
          const ws = createWriteStream(file);
          for (const repo of input.repos) {
            for (let p = 1; p <= repo.pages; p++) {
              const buf = await store.get(store.uriFor(partKey(repo.prefix, p, kind)));
              if (!ws.write(buf)) await once(ws, 'drain');
            }
            ctx.heartbeat({ kind, repo: repo.prefix });
          }
          ws.end();
          await once(ws, 'finish');
          const name = kind === 'python' || kind === 'general' ? `samples.${kind}.jsonl` : `${kind}.jsonl`;
          refs[kind] = await store.putFile(`${input.prefix}/${name}`, file);
        }
        for (const repo of input.repos) {
          tally.repos++;
          for (let p = 1; p <= repo.pages; p++) {
            const s = JSON.parse((await store.get(store.uriFor(partKey(repo.prefix, p, 'summary')))).toString('utf8'));
            tally.merge(MineSummary.parse(s));
          }
        }
        const summary = tally.toSummary();
        const summaryRef = await store.put(`${input.prefix}/summary.json`, JSON.stringify(summary, null, 2) + '\n', {
          records: null,
        });
        return MineStageResult.parse({
          summary,
          artifacts: { ...refs, decisions: refs.decisions, summary: summaryRef },
        });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
  };
}

export type { ArtifactStore };
