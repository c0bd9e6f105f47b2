/**
 * Deterministic code-like corpora for `npm run bench -- mix`: synthetic pull requests
 * (bench/corpus.ts) rendered as The Stack v2-style samples (Python files, diffs, comments, a little
 * non-ASCII), with planted exact and near duplicates. Same arguments → identical corpus.
 */
import { createWriteStream } from 'node:fs';
import { renderGeneralSample } from '../activities/mine/render-general';
import { Rng, syntheticCorpus } from './corpus';

/** A planted duplicate: `b` is a copy of `a` (`a < b`, indices into the final order). */
export interface PlantedPair {
  a: number;
  b: number;
  kind: 'exact' | 'near';
  /** Fraction of the copy's words replaced (0 for exact copies). */
  editRate: number;
}

/** A corpus with its planted duplicate pairs. */
export interface DedupCorpus {
  docs: string[];
  planted: PlantedPair[];
  /** UTF-8 bytes of all documents. */
  bytes: number;
}

/** Word edit rates of near copies: with 5-word shingles, true Jaccard ≈ 0.98, 0.95, 0.90, 0.82. */
export const NEAR_EDIT_RATES = [0.001, 0.005, 0.01, 0.02] as const;

/** Replaces about `rate` of the words of `text` (at least one) with fresh identifiers, keeping whitespace. */
export function editWords(text: string, rate: number, rng: Rng): string {
  const parts = text.split(/(\s+)/);
  const wordIdx: number[] = [];
  for (let i = 0; i < parts.length; i += 2) if (parts[i]) wordIdx.push(i);
  if (wordIdx.length === 0) return text + ' edited';
  let edits = 0;
  for (const i of wordIdx)
    if (rng.chance(rate)) {
      parts[i] = `edited_${rng.int(0, 1e9).toString(36)}`;
      edits++;
    }
  if (edits === 0) parts[rng.pick(wordIdx)] = `edited_${rng.int(0, 1e9).toString(36)}`;
  return parts.join('');
}

/** Rendered synthetic PRs: `n` documents from `seed` (generated in chunks to bound memory). */
export function* baseDocuments(n: number, seed: number, chunk = 250): Generator<string> {
  for (let done = 0, c = 0; done < n; c++) {
    const k = Math.min(chunk, n - done);
    for (const pr of syntheticCorpus(k, seed * 100_003 + c)) yield renderGeneralSample(pr);
    done += k;
  }
}

/**
 * `baseDocs` rendered PRs plus planted copies: each base document gets an exact copy with
 * probability `exactRate` and a near copy (one of {@link NEAR_EDIT_RATES}) with probability
 * `nearRate`; then everything is shuffled.
 */
export function dedupCorpus(baseDocs: number, seed: number, exactRate = 0.05, nearRate = 0.1): DedupCorpus {
  const rng = new Rng(seed ^ 0x5eed);
  const items: { text: string; orig: number; kind?: 'exact' | 'near'; editRate: number }[] = [];
  let i = 0;
  for (const text of baseDocuments(baseDocs, seed)) {
    items.push({ text, orig: i, editRate: 0 });
    if (rng.chance(exactRate)) items.push({ text, orig: i, kind: 'exact', editRate: 0 });
    if (rng.chance(nearRate)) {
      const rate = rng.pick(NEAR_EDIT_RATES);
      items.push({ text: editWords(text, rate, rng), orig: i, kind: 'near', editRate: rate });
    }
    i++;
  }
  for (let k = items.length - 1; k > 0; k--) {
    const j = rng.int(0, k);
    [items[k], items[j]] = [items[j]!, items[k]!];
  }
  const posOfBase = new Map<number, number>();
  items.forEach((it, pos) => {
    if (!it.kind) posOfBase.set(it.orig, pos);
  });
  const planted: PlantedPair[] = [];
  items.forEach((it, pos) => {
    if (!it.kind) return;
    const p = posOfBase.get(it.orig)!;
    planted.push({ a: Math.min(p, pos), b: Math.max(p, pos), kind: it.kind, editRate: it.editRate });
  });
  // flat strings, as documents read from a JSONL file are (rendering builds V8 cons strings)
  const docs = items.map((it) => Buffer.from(it.text, 'utf8').toString('utf8'));
  return { docs, planted, bytes: docs.reduce((a, d) => a + Buffer.byteLength(d), 0) };
}

/**
 * Writes about `bytes` of JSONL records `{"id", "text"}` (rendered PRs, 5% exact and 10% near
 * copies of the previous few documents) to `path`, streaming; with `contaminants`, 0.5% of the
 * documents get one of them appended (a benchmark problem pasted into a PR). Returns documents,
 * bytes and contaminated documents written.
 */
export async function writeJsonlCorpus(
  path: string,
  bytes: number,
  seed: number,
  contaminants: string[] = []
): Promise<{ documents: number; bytes: number; contaminated: number }> {
  const ws = createWriteStream(path, 'utf8');
  const rng = new Rng(seed ^ 0xc0ffee);
  const recent: string[] = [];
  let written = 0;
  let n = 0;
  let contaminated = 0;
  const put = async (text: string): Promise<void> => {
    const line = JSON.stringify({ id: `doc-${n++}`, text }) + '\n';
    written += Buffer.byteLength(line);
    if (!ws.write(line)) await new Promise<void>((r) => ws.once('drain', () => r()));
  };
  outer: for (let c = 0; ; c++) {
    for (let text of baseDocuments(250, seed * 7919 + c)) {
      if (contaminants.length && rng.chance(0.005)) {
        text += `\n\n${rng.pick(contaminants)}\n`;
        contaminated++;
      }
      await put(text);
      recent.push(text);
      if (recent.length > 8) recent.shift();
      if (rng.chance(0.05)) await put(rng.pick(recent));
      if (rng.chance(0.1)) await put(editWords(rng.pick(recent), rng.pick(NEAR_EDIT_RATES), rng));
      if (written >= bytes) break outer;
    }
  }
  await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return { documents: n, bytes: written, contaminated };
}
