/**
 * Decontamination against benchmark files, two ways:
 *
 * - **identity**: a document whose instance_id, repo + PR number, repo + issue number or
 *   base_commit equals a benchmark item's;
 * - **n-gram overlap**: word n-grams (default 13, words = runs of letters, digits and `_`,
 *   lower-cased) of each benchmark text (SWE-bench: problem statement and patch, separately;
 *   HumanEval: prompt and canonical solution); a document is removed when it contains at least
 *   `threshold` of one text's distinct n-grams. The matched item is recorded.
 */
import type { MixBenchmark, StoreConfig } from '../../contracts';
import type { DocIdentity } from './documents';
import { readRecords, toUri } from './read-records';

/** One benchmark text whose n-grams are indexed. */
interface BenchText {
  item: string;
  field: string;
  ngrams: number;
}

/** Why a document matched a benchmark item. */
export interface Contamination {
  reason: 'contaminated_identity' | 'contaminated_ngram';
  /** `<benchmark>:<item id>`. */
  match: string;
  detail: string;
}

const WORD = /[\p{L}\p{N}_]+/gu;

/** 32-bit hashes of the words of `text` (lower-cased). */
function wordHashes(text: string): Uint32Array {
  const words = text.toLowerCase().match(WORD) ?? [];
  const out = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let h = 0x811c9dc5;
    for (let k = 0; k < w.length; k++) {
      h ^= w.charCodeAt(k);
      h = Math.imul(h, 0x01000193);
    }
    out[i] = h >>> 0;
  }
  return out;
}

/** Distinct hashes (53-bit numbers) of the word n-grams of `text`. */
export function ngramHashes(text: string, n: number): Set<number> {
  const w = wordHashes(text);
  const out = new Set<number>();
  for (let i = 0; i + n <= w.length; i++) {
    let a = 0x9e3779b9;
    let b = 0x85ebca6b;
    for (let k = 0; k < n; k++) {
      const x = w[i + k]!;
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul((b + x) ^ (b >>> 13), 0x5bd1e995);
    }
    out.add((a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff));
  }
  return out;
}

/** Index of the benchmark items of every configured benchmark. */
export class BenchmarkIndex {
  private readonly byInstance = new Map<string, string>();
  private readonly byRepoPr = new Map<string, string>();
  private readonly byRepoIssue = new Map<string, string>();
  private readonly byCommit = new Map<string, string>();
  private readonly texts: BenchText[] = [];
  /** n-gram hash → indices into `texts`. */
  private readonly grams = new Map<number, number | number[]>();
  items = 0;

  constructor(private readonly n: number) {}

  /** Adds one benchmark item. */
  add(item: { id: string; identity: DocIdentity & { issue_numbers?: number[] }; texts: Record<string, string> }): void {
    this.items++;
    const { identity: d, id } = item;
    if (d.instance_id) this.byInstance.set(d.instance_id, id);
    if (d.repo && d.pr_number !== undefined) this.byRepoPr.set(`${d.repo.toLowerCase()}#${d.pr_number}`, id);
    if (d.repo) for (const i of d.issue_numbers ?? []) this.byRepoIssue.set(`${d.repo.toLowerCase()}#${i}`, id);
    if (d.base_commit) this.byCommit.set(d.base_commit, id);
    for (const [field, text] of Object.entries(item.texts)) {
      const grams = ngramHashes(text, this.n);
      if (grams.size === 0) continue;
      const t = this.texts.push({ item: id, field, ngrams: grams.size }) - 1;
      for (const g of grams) {
        const cur = this.grams.get(g);
        if (cur === undefined) this.grams.set(g, t);
        else if (typeof cur === 'number') {
          if (cur !== t) this.grams.set(g, [cur, t]);
        } else if (cur[cur.length - 1] !== t) cur.push(t);
      }
    }
  }

  /** The first contamination found for a document, or null. */
  check(text: string, identity: DocIdentity, threshold: number): Contamination | null {
    const id = identity;
    const hit = (field: string, match: string | undefined): Contamination | null =>
      match ? { reason: 'contaminated_identity', match, detail: field } : null;
    const found =
      hit(`instance_id ${id.instance_id}`, id.instance_id ? this.byInstance.get(id.instance_id) : undefined) ??
      hit(
        `repo ${id.repo} PR #${id.pr_number}`,
        id.repo && id.pr_number !== undefined
          ? this.byRepoPr.get(`${id.repo.toLowerCase()}#${id.pr_number}`)
          : undefined
      ) ??
      hit(`base_commit ${id.base_commit}`, id.base_commit ? this.byCommit.get(id.base_commit) : undefined);
    if (found) return found;
    if (id.repo) {
      for (const i of id.issue_numbers ?? []) {
        const m = this.byRepoIssue.get(`${id.repo.toLowerCase()}#${i}`);
        if (m) return { reason: 'contaminated_identity', match: m, detail: `repo ${id.repo} issue #${i}` };
      }
    }
    if (this.texts.length === 0) return null;
    const counts = new Map<number, number>();
    for (const g of ngramHashes(text, this.n)) {
      const t = this.grams.get(g);
      if (t === undefined) continue;
      if (typeof t === 'number') counts.set(t, (counts.get(t) ?? 0) + 1);
      else for (const x of t) counts.set(x, (counts.get(x) ?? 0) + 1);
    }
    let best: Contamination | null = null;
    let bestRatio = 0;
    for (const [t, c] of counts) {
      const bt = this.texts[t]!;
      const ratio = c / bt.ngrams;
      if (ratio >= threshold && ratio > bestRatio) {
        bestRatio = ratio;
        best = {
          reason: 'contaminated_ngram',
          match: bt.item,
          detail: `${bt.field}: ${c}/${bt.ngrams} ${this.n}-grams (${ratio.toFixed(3)})`,
        };
      }
    }
    return best;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Parses `owner__name-123` into repo `owner/name` and PR 123. */
export function parseInstanceId(id: string): { repo: string; pr: number } | null {
  const m = /^(.+?)__(.+)-(\d+)$/.exec(id);
  return m ? { repo: `${m[1]}/${m[2]}`, pr: Number(m[3]) } : null;
}

/** Loads every configured benchmark into one index. */
export async function loadBenchmarks(
  benchmarks: MixBenchmark[],
  n: number,
  store: StoreConfig,
  env: NodeJS.ProcessEnv
): Promise<BenchmarkIndex> {
  const index = new BenchmarkIndex(n);
  for (const b of benchmarks) {
    for await (const rec of readRecords(toUri(b.path), store, env)) {
      if ('error' in rec) throw new Error(`benchmark ${b.name} (${b.path}) line ${rec.line}: ${rec.error}`);
      const r = rec.value;
      if (b.format === 'swebench') {
        const iid = str(r.instance_id);
        const parsed = parseInstanceId(iid);
        const pr = typeof r.pull_number === 'number' ? r.pull_number : parsed?.pr;
        index.add({
          id: `${b.name}:${iid || rec.line}`,
          identity: {
            ...(iid ? { instance_id: iid } : {}),
            ...(str(r.repo) || parsed?.repo ? { repo: str(r.repo) || parsed!.repo } : {}),
            ...(pr !== undefined ? { pr_number: pr } : {}),
            ...(str(r.base_commit) ? { base_commit: str(r.base_commit) } : {}),
            ...(Array.isArray(r.issue_numbers) ? { issue_numbers: r.issue_numbers as number[] } : {}),
          },
          texts: { problem_statement: str(r.problem_statement), patch: str(r.patch) },
        });
      } else if (b.format === 'humaneval') {
        index.add({
          id: `${b.name}:${str(r.task_id) || rec.line}`,
          identity: {},
          texts: { prompt: str(r.prompt), canonical_solution: str(r.canonical_solution) },
        });
      } else {
        const id = typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : String(rec.line);
        index.add({ id: `${b.name}:${id}`, identity: {}, texts: { text: str(r.text) } });
      }
    }
  }
  return index;
}
