/**
 * Finds the merged pull requests of a ref in a git repository, from everything the repository has:
 *
 * - **merge**: a merge commit anywhere in the ref's history (not only on the first-parent line)
 *   that names a PR: `Merge pull request #N …`, a GitHub merge titled `… (#N)`, a merge of a
 *   `pr/N` branch, or a merge whose second parent is the head of `refs/pull/N/head`.
 *   Its commits are `P1..P2` exactly; its base is P1.
 * - **squash**: a non-merge commit titled `… (#N)`: the commit is the PR, its parent the base.
 * - **rebase**: a run of consecutive commits (each the first parent of the next) carrying the same
 *   `(#N)`: one PR whose commits are the run.
 * - **pull_ref**: a `refs/pull/N/head` reachable from the ref that none of the above names; its
 *   commits are those reachable from the head that no other PR and no first-parent commit holds.
 *
 * What is not a PR is counted under a reason, never sampled:
 * - `branch_merge`: a merge whose range holds another PR (a maintenance branch merged forward,
 *   a feature branch collecting PRs); its PRs are found one by one;
 * - `unnumbered_merge`: a merge outside every PR that names none (a sync of a local branch);
 * - `not_a_pull_request`: `(#N)` where the mirror has pull refs but no `refs/pull/N` (an issue);
 * - `inside_other_pr`: a reachable pull ref whose head lies inside another PR (a stacked PR).
 * A number found twice (a cherry-picked squash commit) is one PR: the copy on the first-parent line
 * wins, else the oldest; the others are listed as its duplicates. When the mirror carries pull refs,
 * a PR found by a commit and by `refs/pull/N/head` is one PR `found_as` both.
 */
import type { CommitGraph } from './git-graph';
import { rangeOf, topoOrder } from './git-graph';

/** How a PR reached the ref. */
export type PrShape = 'merge' | 'squash' | 'rebase' | 'pull_ref';
/** Why a commit that looks like a PR boundary is not sampled. */
export type NotPrReason = 'branch_merge' | 'unnumbered_merge' | 'not_a_pull_request' | 'inside_other_pr';

/** One merged PR. Commit ids index the graph. */
export interface FoundPr {
  kind: 'pr';
  number: number;
  shape: PrShape;
  /** Every way the PR was found, `shape` first (`pull_ref` when its pull ref exists too). */
  foundAs: PrShape[];
  /** The commit that brought it in: the merge, the squash commit, the last rebased commit, or the pull head. */
  anchor: number;
  /** base_sha: the merge's first parent; the parent of the squash commit or of the first rebased commit. */
  base: number | null;
  /** head_sha: the merge's second parent, the squash commit, the last rebased commit, the pull head. */
  head: number;
  /** Commits of the PR (merges included), parents first. */
  commits: number[];
  /** Where the net diff starts: the merge-base; undefined when git must compute it (several fork points). */
  netFrom: number | null | undefined;
  /** Commits holding the same number that were merged into this PR (cherry-picked copies). */
  duplicates: number[];
  /** The number came from the merge/squash message (so its title and body are the PR's). */
  messageNamesPr: boolean;
}

/** A merge or `(#N)` commit that is not a PR of its own. */
export interface NotPr {
  kind: 'not_pr';
  reason: NotPrReason;
  /** The PR or issue number it names, if any. */
  number: number | null;
  commit: number;
}

export type Discovered = FoundPr | NotPr;

/** The result of {@link discoverPrs}: items in history order (oldest first), and repository-level counts. */
export interface Discovery {
  items: Discovered[];
  /** Whether the repository has `refs/pull/N/head` refs. */
  hasPullRefs: boolean;
  /** Pull refs whose PR was not found merged into the ref (open, closed or merged elsewhere). */
  pullRefsNotMerged: number;
}

const MERGE_PR = /^Merge pull request #(\d+)\b/;
const TITLE_PR = /\(#(\d+)\)\s*$/;
const PR_BRANCH = /^Merge (?:remote-tracking )?branch '(?:[^' ]*\/)?(?:pr|pull)\/(\d+)(?:\/head)?'/i;

/** Options of {@link discoverPrs}. */
export interface DiscoverOptions {
  /** Treat merges that name no PR and hold none as PRs (numbers assigned by the caller). */
  unnumberedMergesArePrs?: boolean;
}

/**
 * Discovers the PRs of the graph's head. `pulls` maps PR numbers to the SHA of `refs/pull/N/head`.
 * Deterministic: items are ordered by the graph position of their anchor (pull_ref PRs: their head).
 */
export function discoverPrs(g: CommitGraph, pulls: ReadonlyMap<number, string>, opts: DiscoverOptions = {}): Discovery {
  const hasPullRefs = pulls.size > 0;
  const isPr = (n: number): boolean => !hasPullRefs || pulls.has(n);
  const pullByHead = new Map<number, number>();
  for (const [n, sha] of [...pulls].sort((a, b) => a[0] - b[0])) {
    const id = g.index.get(sha);
    if (id !== undefined && !pullByHead.has(id)) pullByHead.set(id, n);
  }

  // 1. Candidates.
  interface MergeCand {
    id: number;
    number: number | null;
    fromMessage: boolean;
    range?: { commits: number[]; boundary: number[] };
  }
  const merges: MergeCand[] = [];
  const squashes: { id: number; number: number }[] = [];
  const notPrs: NotPr[] = [];
  for (let id = 0; id < g.shas.length; id++) {
    const s = g.subject[id]!;
    const ps = g.parents[id]!;
    if (ps.length >= 2) {
      const m = MERGE_PR.exec(s);
      const t = m ? null : TITLE_PR.exec(s);
      const b = m || t ? null : PR_BRANCH.exec(s);
      let number: number | null = null;
      let fromMessage = false;
      if (m) [number, fromMessage] = [Number(m[1]), true];
      else if (t && isPr(Number(t[1]))) [number, fromMessage] = [Number(t[1]), true];
      else if (b && isPr(Number(b[1]))) number = Number(b[1]);
      merges.push({ id, number, fromMessage });
    } else {
      const t = TITLE_PR.exec(s);
      if (!t) continue;
      const n = Number(t[1]);
      if (isPr(n)) squashes.push({ id, number: n });
      else notPrs.push({ kind: 'not_pr', reason: 'not_a_pull_request', number: n, commit: id });
    }
  }
  // A merge naming no PR whose second parent is a pull head merged that PR (`git merge pr-branch`).
  // One merge per pull ref (a branch tip may be merged in several places): first-parent line first,
  // then the oldest; never a number a message already names.
  const named = new Set(merges.filter((m) => m.number !== null).map((m) => m.number!));
  const byPull = new Map<number, MergeCand>();
  for (const m of merges) {
    if (m.number !== null) continue;
    const n = g.parents[m.id]!.slice(1)
      .map((p) => pullByHead.get(p))
      .find((x) => x !== undefined);
    if (n === undefined || named.has(n)) continue;
    const have = byPull.get(n);
    if (!have || (g.onChain[m.id] && !g.onChain[have.id])) byPull.set(n, m);
  }
  for (const [n, m] of byPull) m.number = n;
  const rangeFor = (m: MergeCand) => (m.range ??= rangeOf(g, g.parents[m.id]![0]!, g.parents[m.id]![1]!));

  // 2. A numbered merge holding another PR's anchor is a branch merge. Ancestors come first (ids
  // are in topological order), so a merge holding only branch merges (a fork's sync of upstream
  // inside a PR) is still a PR. Without pull refs a `(#N)` inside a branch may name an issue, so
  // only merges are anchors there.
  const anchors = new Set<number>(hasPullRefs ? squashes.map((q) => q.id) : []);
  const holdsPr = (m: MergeCand): boolean => rangeFor(m).commits.some((c) => anchors.has(c));
  const prMerges: MergeCand[] = [];
  const claimed = new Uint8Array(g.shas.length);
  for (const m of merges) {
    if (m.number === null) continue;
    if (holdsPr(m)) notPrs.push({ kind: 'not_pr', reason: 'branch_merge', number: m.number, commit: m.id });
    else {
      prMerges.push(m);
      anchors.add(m.id);
      for (const c of rangeFor(m).commits) claimed[c] = 1;
    }
  }
  // 3. Merges naming no PR: inside a PR they are part of it; otherwise branch merges or syncs.
  const unnumbered: MergeCand[] = [];
  for (const m of merges) {
    if (m.number !== null || claimed[m.id]) continue;
    if (holdsPr(m)) notPrs.push({ kind: 'not_pr', reason: 'branch_merge', number: null, commit: m.id });
    else if (opts.unnumberedMergesArePrs) unnumbered.push(m);
    else notPrs.push({ kind: 'not_pr', reason: 'unnumbered_merge', number: null, commit: m.id });
  }

  // 4. PRs from merges, squash commits and rebase runs.
  if (!hasPullRefs) squashes.splice(0, squashes.length, ...squashes.filter((q) => !claimed[q.id]));
  const found: FoundPr[] = [];
  const fromMerge = (m: MergeCand, number: number): FoundPr => {
    const r = rangeFor(m);
    return {
      kind: 'pr',
      number,
      shape: 'merge',
      foundAs: ['merge'],
      anchor: m.id,
      base: g.parents[m.id]![0]!,
      head: g.parents[m.id]![1]!,
      commits: topoOrder(g, r.commits),
      netFrom: r.boundary.length === 1 ? r.boundary[0]! : undefined,
      duplicates: [],
      messageNamesPr: m.fromMessage,
    };
  };
  for (const m of prMerges) found.push(fromMerge(m, m.number!));
  unnumbered.forEach((m) => found.push(fromMerge(m, -1)));
  for (let k = 0; k < squashes.length;) {
    const run = [squashes[k]!];
    while (
      k + run.length < squashes.length &&
      squashes[k + run.length]!.number === run[0]!.number &&
      g.parents[squashes[k + run.length]!.id]![0] === run[run.length - 1]!.id
    )
      run.push(squashes[k + run.length]!);
    k += run.length;
    const first = run[0]!.id;
    const last = run[run.length - 1]!.id;
    const base = g.parents[first]![0] ?? null;
    found.push({
      kind: 'pr',
      number: run[0]!.number,
      shape: run.length > 1 ? 'rebase' : 'squash',
      foundAs: [run.length > 1 ? 'rebase' : 'squash'],
      anchor: last,
      base,
      head: last,
      commits: run.map((s) => s.id),
      netFrom: base,
      duplicates: [],
      messageNamesPr: true,
    });
  }

  // 5. One PR per number: the copy on the first-parent line, else the oldest.
  const byNumber = new Map<number, FoundPr>();
  const rank = (p: FoundPr): [number, number] => [g.onChain[p.anchor] ? 0 : 1, p.anchor];
  for (const p of found.sort((a, b) => a.anchor - b.anchor)) {
    if (p.number < 0) continue;
    const have = byNumber.get(p.number);
    if (!have) byNumber.set(p.number, p);
    else {
      const [a, b] = [rank(have), rank(p)];
      const [keep, drop] = a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? [have, p] : [p, have];
      keep.duplicates.push(drop.anchor, ...drop.duplicates);
      byNumber.set(p.number, keep);
    }
  }
  const prs = [...byNumber.values(), ...found.filter((p) => p.number < 0)];

  // 6. Pull refs: the same PR, a PR found only through its ref, or not merged into the ref.
  const taken = new Uint8Array(g.shas.length);
  for (const c of g.chain) taken[c] = 1;
  for (const p of prs) for (const c of [p.anchor, ...p.commits]) taken[c] = 1;
  const numbered = new Set([
    ...prs.map((p) => p.number),
    ...notPrs.filter((n) => n.number !== null).map((n) => n.number!),
  ]);
  let pullRefsNotMerged = 0;
  for (const [n, sha] of [...pulls].sort((a, b) => a[0] - b[0])) {
    const known = byNumber.get(n);
    if (known) {
      known.foundAs.push('pull_ref');
      continue;
    }
    if (numbered.has(n)) continue;
    const h = g.index.get(sha);
    if (h === undefined) {
      pullRefsNotMerged++;
      continue;
    }
    if (taken[h] && !(g.onChain[h] && !anchors.has(h))) {
      notPrs.push({ kind: 'not_pr', reason: 'inside_other_pr', number: n, commit: h });
      continue;
    }
    // Its own commits: reachable from the head through commits nobody else holds.
    const own: number[] = [];
    const seen = new Set<number>();
    const stack = [h];
    while (stack.length > 0) {
      const c = stack.pop()!;
      if (seen.has(c)) continue;
      seen.add(c);
      if (c !== h && taken[c]) continue;
      own.push(c);
      if (c === h && g.onChain[h]) break; // fast-forwarded onto the line: the head alone
      for (const q of g.parents[c]!) stack.push(q);
    }
    const commits = topoOrder(g, own);
    for (const c of commits) taken[c] = 1;
    // Holding another PR, or only merges: a branch merged through a pull request, not a PR of its own.
    if (commits.some((c) => anchors.has(c)) || commits.every((c) => g.parents[c]!.length > 1)) {
      notPrs.push({ kind: 'not_pr', reason: 'branch_merge', number: n, commit: h });
      continue;
    }
    const base = g.parents[commits[0]!]![0] ?? null;
    const pr: FoundPr = {
      kind: 'pr',
      number: n,
      shape: 'pull_ref',
      foundAs: ['pull_ref'],
      anchor: h,
      base,
      head: h,
      commits,
      netFrom: base,
      duplicates: [],
      messageNamesPr: false,
    };
    byNumber.set(n, pr);
    prs.push(pr);
  }

  // One line per number: a not-PR keeps its number only when no PR and no earlier not-PR has it.
  const lined = new Set(prs.map((p) => p.number));
  for (const x of notPrs.sort((a, b) => a.commit - b.commit)) {
    if (x.number === null || x.reason === 'not_a_pull_request') continue;
    if (lined.has(x.number)) x.number = null;
    else lined.add(x.number);
  }
  const items: Discovered[] = [...prs, ...notPrs].sort(
    (a, b) => anchorOf(a) - anchorOf(b) || a.kind.localeCompare(b.kind)
  );
  return { items, hasPullRefs, pullRefsNotMerged };
}

/** The graph position an item sorts by: its anchor commit. */
export const anchorOf = (d: Discovered): number => (d.kind === 'pr' ? d.anchor : d.commit);
