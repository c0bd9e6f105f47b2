/**
 * Deterministic synthetic corpus of PrRecords for benchmarks: Python repositories with realistic
 * code (classes, functions, docstrings, comments, a little non-ASCII), PRs of 1–5 commits whose
 * per-commit unified-diff patches apply in order to the relevant files, linked issues, PR comments,
 * reviews and review-comment threads. Same seed → byte-identical corpus.
 */
import type { CommitFileDiff, PrCommit, PrRecord } from '../contracts/pr';

/** Small fast seeded PRNG (mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const NOUNS = [
  'widget',
  'config',
  'session',
  'request',
  'response',
  'cache',
  'token',
  'node',
  'graph',
  'buffer',
  'record',
  'parser',
  'schema',
  'client',
  'handler',
  'event',
  'queue',
  'worker',
  'task',
  'model',
  'tensor',
  'frame',
  'column',
  'index',
  'path',
  'file',
  'stream',
  'user',
  'account',
  'item',
  'batch',
  'layer',
  'metric',
  'plugin',
  'registry',
  'context',
  'loader',
  'result',
  'value',
  'field',
];
const VERBS = [
  'get',
  'set',
  'load',
  'save',
  'parse',
  'build',
  'compute',
  'update',
  'validate',
  'render',
  'fetch',
  'resolve',
  'apply',
  'merge',
  'split',
  'convert',
  'normalize',
  'register',
  'dispatch',
  'flush',
  'reset',
  'check',
  'collect',
  'emit',
  'format',
];
const ADJ = [
  'default',
  'raw',
  'cached',
  'pending',
  'active',
  'local',
  'remote',
  'max',
  'min',
  'total',
  'current',
  'previous',
  'next',
  'base',
  'extra',
  'safe',
  'strict',
];
const WORDS = [
  'the',
  'a',
  'when',
  'is',
  'not',
  'with',
  'for',
  'this',
  'returns',
  'if',
  'value',
  'of',
  'in',
  'and',
  'should',
  'be',
  'called',
  'before',
  'after',
  'only',
  'empty',
  'list',
  'string',
  'number',
  'object',
  'error',
  'raised',
  'each',
  'all',
  'new',
  'given',
  'missing',
  'invalid',
  'used',
  'by',
  'to',
  'from',
];
const UNICODE_BITS = [
  'café',
  'naïve',
  'Größe',
  'über',
  '東京',
  '数据',
  'データ',
  '✓',
  '→',
  '—',
  '°C',
  'µs',
  'π',
  '😀',
  '🚀',
  'Ελληνικά',
  'русский',
  'Café',
  '’',
];
const OWNERS = [
  'acme',
  'opensci',
  'dataflow-labs',
  'pyutils',
  'quantlib',
  'webkitz',
  'mlops-org',
  'geo-tools',
  'bioinfo',
  'devkit',
];
const REPOS = [
  'widgets',
  'fastparse',
  'tinyorm',
  'pipeline',
  'metrics-core',
  'geoplot',
  'seqtools',
  'httpkit',
  'configlib',
  'taskq',
  'vecdb',
  'imgproc',
];
const PEOPLE = [
  'alice',
  'bob-dev',
  'carol92',
  'dmitri',
  'eve_w',
  'fatima',
  'gwen',
  'hiro',
  'ivan',
  'jules',
  'kwame',
  'li-na',
];

function ident(r: Rng, parts = 2): string {
  const xs = [r.pick(VERBS)];
  for (let i = 1; i < parts; i++) xs.push(r.chance(0.3) ? r.pick(ADJ) : r.pick(NOUNS));
  return xs.join('_');
}
function camel(r: Rng): string {
  const w = [
    r.pick(ADJ),
    r.pick(NOUNS),
    r.pick(['Manager', 'Handler', 'Store', 'Builder', 'Parser', 'Client', 'Error', 'Config', '']),
  ];
  return w.map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join('');
}
function sentence(r: Rng, min = 5, max = 14): string {
  const n = r.int(min, max);
  const ws: string[] = [];
  for (let i = 0; i < n; i++)
    ws.push(r.chance(0.04) ? r.pick(UNICODE_BITS) : r.chance(0.15) ? r.pick(NOUNS) : r.pick(WORDS));
  const s = ws.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + r.pick(['.', '.', '.', '!', '?']);
}
function paragraph(r: Rng, n: number): string {
  return Array.from({ length: n }, () => sentence(r)).join(' ');
}

function expr(r: Rng, vars: string[]): string {
  const v = (): string => r.pick(vars);
  switch (r.int(0, 9)) {
    case 0:
      return `${v()} + ${r.int(1, 100)}`;
    case 1:
      return `len(${v()})`;
    case 2:
      return `self.${r.pick(NOUNS)}.${ident(r)}(${v()})`;
    case 3:
      return `"${r.pick(WORDS)} ${r.pick(NOUNS)}: {}".format(${v()})`;
    case 4:
      return `f"{${v()}!r} is ${r.pick(ADJ)}"`;
    case 5:
      return `[x for x in ${v()} if x is not None]`;
    case 6:
      return `{k: v for k, v in ${v()}.items()}`;
    case 7:
      return `${v()} * ${(r.next() * 10).toFixed(2)}`;
    case 8:
      return `max(${v()}, ${r.int(0, 9)})`;
    default:
      return `${ident(r)}(${v()}, ${r.pick(['None', 'True', 'False', '0', "''"])})`;
  }
}

function block(r: Rng, indent: string, vars: string[], depth: number): string[] {
  const lines: string[] = [];
  const n = r.int(2, depth > 0 ? 4 : 7);
  for (let i = 0; i < n; i++) {
    const k = r.int(0, 11);
    const name = r.pick([...NOUNS, ...ADJ.map((a) => `${a}_${r.pick(NOUNS)}`)]);
    if (k <= 3) {
      lines.push(`${indent}${name} = ${expr(r, vars)}`);
      vars = [...vars, name];
    } else if (k === 4 && depth < 2) {
      lines.push(`${indent}if ${r.pick(vars)} is None:`, ...block(r, indent + '    ', vars, depth + 1));
      if (r.chance(0.4)) lines.push(`${indent}else:`, ...block(r, indent + '    ', vars, depth + 1));
    } else if (k === 5 && depth < 2) {
      lines.push(`${indent}for item in ${r.pick(vars)}:`, ...block(r, indent + '    ', [...vars, 'item'], depth + 1));
    } else if (k === 6) {
      lines.push(`${indent}# ${sentence(r, 3, 10)}`);
    } else if (k === 7 && depth < 2) {
      lines.push(
        `${indent}try:`,
        ...block(r, indent + '    ', vars, depth + 1),
        `${indent}except (KeyError, ValueError) as exc:`
      );
      lines.push(`${indent}    raise ${camel(r)}Error(f"could not ${r.pick(VERBS)} ${r.pick(NOUNS)}: {exc}") from exc`);
    } else if (k === 8) {
      lines.push(`${indent}logger.debug("%s ${r.pick(WORDS)} %d", ${r.pick(vars)}, ${r.int(0, 999)})`);
    } else {
      lines.push(`${indent}${r.pick(vars)}.${ident(r)}(${expr(r, vars)})`);
    }
  }
  return lines;
}

function func(r: Rng, indent: string, method: boolean): string[] {
  const args = Array.from({ length: r.int(0, 3) }, () => r.pick(NOUNS)).filter((a, i, xs) => xs.indexOf(a) === i);
  const params = [...(method ? ['self'] : []), ...args, ...(r.chance(0.3) ? [`${r.pick(ADJ)}=None`] : [])];
  const lines = [
    `${indent}def ${ident(r, r.int(2, 3))}(${params.join(', ')})${r.chance(0.3) ? ` -> ${r.pick(['int', 'str', 'bool', 'dict', 'list[str]', 'None'])}` : ''}:`,
  ];
  if (r.chance(0.7)) lines.push(`${indent}    """${sentence(r, 4, 12)}"""`);
  lines.push(...block(r, indent + '    ', args.length ? args : ['self'], 0));
  lines.push(
    `${indent}    return ${r.chance(0.5) ? r.pick(args.length ? args : ['None']) : expr(r, args.length ? args : ['self'])}`
  );
  return lines;
}

/** A Python module of roughly `target` lines. */
export function pythonModule(r: Rng, target: number): string {
  const lines: string[] = [
    `"""${sentence(r)}`,
    '',
    paragraph(r, 2),
    '"""',
    'from __future__ import annotations',
    '',
    'import logging',
    'import os',
    `from typing import Any, Optional`,
    '',
    'logger = logging.getLogger(__name__)',
    `${r.pick(ADJ).toUpperCase()}_${r.pick(NOUNS).toUpperCase()} = ${r.int(1, 4096)}`,
    '',
  ];
  while (lines.length < target) {
    lines.push('');
    if (r.chance(0.45)) {
      lines.push(
        `class ${camel(r)}(${r.pick(['object', 'Exception', 'dict', 'Base'])}):`,
        `    """${sentence(r)}"""`,
        ''
      );
      const m = r.int(1, 4);
      for (let i = 0; i < m; i++) lines.push(...func(r, '    ', true), '');
    } else {
      lines.push(...func(r, '', false), '');
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Applies random edits to `content` and returns the new content plus the GitHub-style patch
 * (hunks only, 3 lines of context; edits are spaced so hunks never overlap).
 */
export function editFile(r: Rng, content: string): { after: string; patch: string } {
  const old = content.split('\n');
  old.pop(); // trailing newline
  const nEdits = r.int(1, Math.max(1, Math.min(4, Math.floor(old.length / 40))));
  const starts: number[] = [];
  for (let tries = 0; starts.length < nEdits && tries < 50; tries++) {
    const s = r.int(0, Math.max(0, old.length - 4));
    if (starts.every((x) => Math.abs(x - s) > 14)) starts.push(s);
  }
  starts.sort((a, b) => a - b);
  const out: string[] = [];
  const hunks: string[] = [];
  let cursor = 0;
  let delta = 0;
  for (const s of starts) {
    const del = Math.min(r.int(0, 3), old.length - s);
    const indent = /^\s*/.exec(old[s] ?? '')?.[0] ?? '';
    const add = Array.from({ length: r.int(del === 0 ? 1 : 0, 4) }, () =>
      r.chance(0.3)
        ? `${indent}# ${sentence(r, 3, 9)}`
        : `${indent}${r.pick(NOUNS)} = ${expr(r, [r.pick(NOUNS), 'self'])}`
    );
    const ctxStart = Math.max(0, s - 3);
    const ctxEnd = Math.min(old.length, s + del + 3);
    out.push(...old.slice(cursor, s), ...add);
    cursor = s + del;
    const before = old.slice(ctxStart, s).map((l) => ` ${l}`);
    const after = old.slice(s + del, ctxEnd).map((l) => ` ${l}`);
    const body = [...before, ...old.slice(s, s + del).map((l) => `-${l}`), ...add.map((l) => `+${l}`), ...after];
    const oldLen = ctxEnd - ctxStart;
    const newLen = oldLen - del + add.length;
    const oldStart = oldLen === 0 ? ctxStart : ctxStart + 1;
    const newStart = newLen === 0 ? ctxStart + delta : ctxStart + delta + 1;
    const range = (a: number, n: number): string => (n === 1 ? `${a}` : `${a},${n}`);
    hunks.push(`@@ -${range(oldStart, oldLen)} +${range(newStart, newLen)} @@`, ...body);
    delta += add.length - del;
  }
  out.push(...old.slice(cursor));
  return { after: out.join('\n') + '\n', patch: hunks.join('\n') };
}

function iso(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z');
}

function sha(r: Rng): string {
  let s = '';
  for (let i = 0; i < 5; i++)
    s += Math.floor(r.next() * 0xffffffff)
      .toString(16)
      .padStart(8, '0');
  return s;
}

/** One synthetic merged Python PR. */
export function syntheticPr(r: Rng, n: number): PrRecord {
  const repo = `${r.pick(OWNERS)}/${r.pick(REPOS)}`;
  const pkg = repo.split('/')[1]!.replace(/-/g, '_');
  const nFiles = r.int(1, 3);
  const paths = Array.from(
    { length: nFiles },
    (_, i) => `${pkg}/${r.pick(NOUNS)}${i ? `_${r.pick(VERBS)}` : ''}.py`
  ).filter((p, i, xs) => xs.indexOf(p) === i);
  const state = new Map<string, string>();
  const relevant = paths.map((path) => {
    const content = pythonModule(r, r.int(60, 420));
    state.set(path, content);
    return { path, content };
  });
  let t = Date.UTC(2023, 0, 1) + n * 3_600_000;
  const author = r.pick(PEOPLE);
  const commits: PrCommit[] = [];
  const added: string[] = [];
  const nCommits = r.int(1, 5);
  for (let c = 0; c < nCommits; c++) {
    t += r.int(5, 600) * 60_000;
    const diffs: CommitFileDiff[] = [];
    const touched = paths.filter((_, i) => i === c % paths.length || r.chance(0.3));
    for (const path of touched) {
      const { after, patch } = editFile(r, state.get(path)!);
      state.set(path, after);
      diffs.push({ path, previous_path: null, status: 'modified', patch, binary: false });
    }
    if (c === nCommits - 1 && r.chance(0.3)) {
      const path = `tests/test_${r.pick(NOUNS)}_${n}.py`;
      const content = pythonModule(r, r.int(15, 60));
      const lines = content.split('\n');
      lines.pop();
      diffs.push({
        path,
        previous_path: null,
        status: 'added',
        patch: `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}`,
        binary: false,
      });
      added.push(path);
    }
    commits.push({
      sha: sha(r),
      parents: [sha(r)],
      author,
      authored_at: iso(t),
      message: r.chance(0.3)
        ? r.pick(['fix', 'update', 'wip', 'address review', 'typo'])
        : `${r.pick(['Fix', 'Add', 'Refactor', 'Handle', 'Improve'])} ${ident(r).replace(/_/g, ' ')} in ${r.pick(paths)}${r.chance(0.4) ? `\n\n${paragraph(r, 2)}` : ''}`,
      refined_message: null,
      diffs,
    });
  }
  const created = Date.UTC(2023, 0, 1) + n * 3_600_000;
  const issueNo = r.int(1, 5000);
  const hasIssue = r.chance(0.6);
  const reviewer = r.pick(PEOPLE.filter((p) => p !== author));
  const reviewComments = r.chance(0.5)
    ? [
        {
          author: reviewer,
          body: sentence(r),
          created_at: iso(created + 7_200_000),
          path: paths[0]!,
          diff_hunk: commits[0]!.diffs[0]?.patch?.split('\n').slice(0, 5).join('\n') ?? '',
          in_reply_to: null,
          id: n * 10 + 1,
        },
        {
          author,
          body: sentence(r),
          created_at: iso(created + 9_000_000),
          path: paths[0]!,
          diff_hunk: '',
          in_reply_to: n * 10 + 1,
          id: n * 10 + 2,
        },
      ]
    : [];
  return {
    commits_truncated: false,
    repo,
    repo_description: sentence(r, 4, 10),
    number: n,
    title: `${r.pick(['Fix', 'Add', 'Support', 'Refactor', 'Speed up'])} ${ident(r).replace(/_/g, ' ')}${hasIssue ? ` (#${issueNo})` : ''}`,
    body: `${paragraph(r, r.int(1, 4))}\n\n${hasIssue ? `Fixes #${issueNo}\n\n` : ''}${r.chance(0.3) ? '```python\n' + func(r, '', false).join('\n') + '\n```\n' : ''}`,
    author,
    author_is_bot: false,
    state: 'closed',
    merged: true,
    created_at: iso(created),
    merged_at: iso(t + 3_600_000),
    closed_at: iso(t + 3_600_000),
    base_sha: sha(r),
    head_sha: commits.at(-1)!.sha,
    merge_commit_sha: sha(r),
    commits,
    changed_files: [
      ...paths.map((path) => ({ path, previous_path: null, status: 'modified' as const })),
      ...added.map((path) => ({ path, previous_path: null, status: 'added' as const })),
    ],
    relevant_files: relevant,
    skipped_files: [],
    linked_issues: hasIssue
      ? [
          {
            number: issueNo,
            title: sentence(r, 3, 8).replace(/[.!?]$/, ''),
            body: `${paragraph(r, r.int(1, 3))}\n\n\`\`\`\nTraceback (most recent call last):\n  File "${paths[0]}", line ${r.int(1, 300)}, in ${ident(r)}\n${camel(r)}Error: ${sentence(r, 3, 6)}\n\`\`\``,
            created_at: iso(created - 86_400_000),
            comments: [],
          },
        ]
      : [],
    comments: r.chance(0.5) ? [{ author: reviewer, body: sentence(r), created_at: iso(created + 3_600_000) }] : [],
    reviews: r.chance(0.6)
      ? [
          {
            author: reviewer,
            body: r.chance(0.5) ? sentence(r) : '',
            state: r.pick(['approved', 'commented', 'changes_requested']),
            submitted_at: iso(t + 1_800_000),
          },
        ]
      : [],
    review_comments: reviewComments,
    pr_summary: r.chance(0.5) ? paragraph(r, 2) : null,
  };
}

/** `count` synthetic PRs from `seed`. */
export function syntheticCorpus(count: number, seed = 1): PrRecord[] {
  const r = new Rng(seed);
  return Array.from({ length: count }, (_, i) => syntheticPr(r, i + 1));
}
