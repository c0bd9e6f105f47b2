/**
 * The commit graph of a ref, held in memory with integer ids, for PR discovery (git-discover.ts):
 * parents, committer times, subjects and generation numbers, plus exact `base..head` ranges by
 * painting down from both ends in generation order (git's own paint-down-to-common idea).
 *
 * Memory is a few hundred bytes per commit (the SHA and subject dominate): ~30 MB for 100k commits.
 */

/** One commit-graph, ids in `git log --topo-order --reverse` order (parents before children). */
export interface CommitGraph {
  shas: string[];
  /** Parent ids per commit (parents outside the graph, e.g. of a shallow clone, are left out). */
  parents: number[][];
  /** Committer time, epoch seconds. */
  ct: number[];
  /** `%s`: the first paragraph of the message on one line. */
  subject: string[];
  /** 1 + the largest generation of the parents (roots are 1): a child always has a larger one. */
  gen: Int32Array;
  index: Map<string, number>;
  /** First-parent chain of the head, head first. */
  chain: number[];
  onChain: Uint8Array;
}

/** Parses `git log --topo-order --reverse --format=%H %P%x00%ct%x00%s%x00` output into a graph. */
export function parseGraph(text: string, head: string): CommitGraph {
  const toks = text.split('\0');
  const shas: string[] = [];
  const rawParents: string[][] = [];
  const ct: number[] = [];
  const subject: string[] = [];
  for (let i = 0; i + 2 < toks.length; i += 3) {
    const [sha, ...ps] = toks[i]!.replace(/^\n/, '').split(' ');
    shas.push(sha!);
    rawParents.push(ps.filter(Boolean));
    ct.push(Number(toks[i + 1]));
    subject.push(toks[i + 2]!);
  }
  const index = new Map<string, number>();
  shas.forEach((s, i) => index.set(s, i));
  const parents = rawParents.map((ps) => ps.map((p) => index.get(p)).filter((p): p is number => p !== undefined));
  const gen = new Int32Array(shas.length);
  for (let i = 0; i < shas.length; i++) {
    let g = 0;
    for (const p of parents[i]!) if (gen[p]! > g) g = gen[p]!;
    gen[i] = g + 1;
  }
  const chain: number[] = [];
  const onChain = new Uint8Array(shas.length);
  // Walk the first parents of the graph (not the filtered list: a missing first parent ends the chain).
  for (let c = index.get(head); c !== undefined;) {
    chain.push(c);
    onChain[c] = 1;
    const first = rawParents[c]![0];
    c = first === undefined ? undefined : index.get(first);
  }
  return { shas, parents, ct, subject, gen, index, chain, onChain };
}

/** A binary max-heap of commit ids by generation, ties by id (later in topo order first). */
class GenHeap {
  private a: number[] = [];
  constructor(private readonly gen: Int32Array) {}
  get size(): number {
    return this.a.length;
  }
  private above(x: number, y: number): boolean {
    return this.gen[x]! > this.gen[y]! || (this.gen[x] === this.gen[y] && x > y);
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.above(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.above(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.above(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * `base..head`: the commits reachable from `head` and not from `base` (merges included), and the
 * boundary: the commits outside the range that range commits have as parents (for a range with a
 * single fork point, the merge-base). An empty range has `head` as its boundary.
 *
 * Commits are visited in decreasing generation, so a commit's colour is final when it is popped
 * (its children all come first); the walk stops once no queued commit is reachable from `head` only.
 */
export function rangeOf(g: CommitGraph, base: number | null, head: number): { commits: number[]; boundary: number[] } {
  if (base === head) return { commits: [], boundary: [head] };
  const HEAD = 1;
  const BASE = 2;
  const color = new Map<number, number>();
  const queued = new Set<number>();
  const heap = new GenHeap(g.gen);
  let headOnly = 0;
  const paint = (c: number, bits: number): void => {
    const old = color.get(c) ?? 0;
    const now = old | bits;
    if (now === old) return;
    color.set(c, now);
    if (queued.has(c)) {
      if (old === HEAD) headOnly--;
      return;
    }
    queued.add(c);
    heap.push(c);
    if (now === HEAD) headOnly++;
  };
  paint(head, HEAD);
  if (base !== null) paint(base, BASE);
  const commits: number[] = [];
  while (headOnly > 0) {
    const c = heap.pop();
    queued.delete(c);
    const bits = color.get(c)!;
    if (bits === HEAD) {
      headOnly--;
      commits.push(c);
    }
    for (const p of g.parents[c]!) paint(p, bits);
  }
  const inRange = new Set(commits);
  const boundary = new Set<number>();
  for (const c of commits) for (const p of g.parents[c]!) if (!inRange.has(p)) boundary.add(p);
  if (commits.length === 0) boundary.add(head);
  return { commits, boundary: [...boundary].sort((a, b) => a - b) };
}

/**
 * Parents before children; among ready commits the oldest committer time, then the smallest SHA:
 * for a linear branch the same as `git rev-list --reverse --topo-order base..head`.
 */
export function topoOrder(g: CommitGraph, ids: number[]): number[] {
  const inSet = new Set(ids);
  const pending = new Map<number, number>();
  const children = new Map<number, number[]>();
  for (const c of ids) {
    const ps = new Set(g.parents[c]!.filter((p) => inSet.has(p)));
    pending.set(c, ps.size);
    for (const p of ps) (children.get(p) ?? children.set(p, []).get(p)!).push(c);
  }
  const before = (a: number, b: number): number => {
    const d = g.ct[a]! - g.ct[b]!;
    if (d !== 0) return d;
    const sa = g.shas[a]!;
    const sb = g.shas[b]!;
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  };
  const ready = ids.filter((c) => pending.get(c) === 0).sort(before);
  const out: number[] = [];
  while (ready.length > 0) {
    const c = ready.shift()!;
    out.push(c);
    for (const k of children.get(c) ?? []) {
      const n = pending.get(k)! - 1;
      pending.set(k, n);
      if (n === 0) {
        // Insert keeping `ready` sorted (it is short: the number of parallel lines).
        let at = 0;
        while (at < ready.length && before(ready[at]!, k) <= 0) at++;
        ready.splice(at, 0, k);
      }
    }
  }
  return out;
}
