/** Generated pytest logs (`pytest -rA`, optionally `-v` or xdist) for the grading parity corpus. */
import { officialTestId, parserFamily } from '../../activities/grading/parsers/index';
import { type CorpusItem, type GenStatus, Rng, WORDS, evalLog, genStatus } from './log-corpus-common';

/** Parameter ids as pytest prints them: plain, spaces, ` - `, unicode, slashes, nested brackets. */
const PARAMS = [
  '1',
  'a-b',
  'True-None',
  'x y',
  'log(photon cm-2',
  'a - b',
  'é-ü',
  '日本語',
  'path/to/file.txt',
  '/abs/path',
  '[1, 2]',
  'float64-1e-05',
  'case 3 of 4',
  'ñ',
  '<lambda>',
  'MouseButton.LEFT',
  '/tmp/data/file.fits',
  '//server/share',
  '/a/*.txt',
  'a\u00a0b',
];
const REPOS: [string, string][] = [
  ['pallets/flask', 'parse_log_pytest'],
  ['pytest-dev/pytest', 'parse_log_pytest'],
  ['pydata/xarray', 'parse_log_pytest'],
  ['astropy/astropy', 'parse_log_pytest_v2'],
  ['sphinx-doc/sphinx', 'parse_log_pytest_v2'],
  ['scikit-learn/scikit-learn', 'parse_log_pytest_v2'],
  ['psf/requests', 'parse_log_pytest_options'],
  ['pylint-dev/pylint', 'parse_log_pytest_options'],
  ['matplotlib/matplotlib', 'parse_log_matplotlib'],
  ['mwaskom/seaborn', 'parse_log_seaborn'],
];

interface PyTest {
  id: string;
  status: GenStatus;
}

function makeTests(rng: Rng, n: number): PyTest[] {
  const out: PyTest[] = [];
  const seen = new Set<string>();
  while (out.length < n) {
    const mod = `tests/${rng.chance(0.3) ? 'sub/' : ''}test_${rng.pick(WORDS)}.py`;
    const cls = rng.chance(0.3) ? `::Test${rng.pick(WORDS)}` : '';
    const base = `${mod}${cls}::test_${rng.pick(WORDS)}_${rng.int(0, 9)}`;
    const id = rng.chance(0.5) ? `${base}[${rng.pick(PARAMS)}]` : base;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, status: 'PASSED' });
    // A sibling whose id is the same up to its first space (an ambiguous truncated id).
    const sibling = `${base}[case 1 of 4]`;
    if (id.endsWith('[case 3 of 4]') && !seen.has(sibling) && rng.chance(0.6)) {
      seen.add(sibling);
      out.push({ id: sibling, status: 'PASSED' });
    }
  }
  return out;
}

const SUMMARY_ORDER: GenStatus[] = ['PASSED', 'SKIPPED', 'XFAIL', 'XPASS', 'ERROR', 'FAILED'];

/** pytest's console output for these tests: progress lines (when verbose), failures, `-rA` summary, totals. */
interface BodyOptions {
  verbose: boolean;
  /** `-v` lines without the percentage (older pytest): `path::test PASSED`. */
  bare: boolean;
  xdist: boolean;
  ansi: boolean;
  /** pytest 8 prints `XPASS id - reason`; pytest ≤ 7 `XPASS id reason`. */
  xpassDash: boolean;
  /** Captured log lines (`ERROR    root:app.py:12 boom`) that start with a status word. */
  capturedLog: boolean;
}

function pytestBody(rng: Rng, tests: PyTest[], opts: BodyOptions): string[] {
  const lines = [
    '============================= test session starts ==============================',
    'platform linux -- Python 3.11.7, pytest-8.3.2, pluggy-1.5.0',
    `collected ${tests.length} items`,
    '',
  ];
  tests.forEach((t, i) => {
    const pct = `[${String(Math.round(((i + 1) * 100) / tests.length)).padStart(3)}%]`;
    const word = t.status;
    if (opts.xdist) lines.push(`[gw${i % 2}] ${pct} ${word} ${t.id} `);
    else if (opts.bare) lines.push(`${t.id} ${word}`);
    else if (opts.verbose) lines.push(`${t.id} ${word}${word === 'SKIPPED' ? ' (needs network)' : ''} ${pct}`);
  });
  if (tests.some((t) => t.status === 'FAILED')) {
    lines.push('', '=================================== FAILURES ===================================');
    for (const t of tests.filter((x) => x.status === 'FAILED')) {
      lines.push(
        `___ ${t.id.split('::').pop()} ___`,
        '    def test():',
        '>       assert 1 == 2',
        'E       assert 1 == 2',
        ...(opts.capturedLog
          ? [
              '------------------------------ Captured log call -------------------------------',
              'ERROR    root:app.py:12 boom',
              'PASSED',
            ]
          : []),
        ''
      );
    }
  }
  lines.push('=========================== short test summary info ============================');
  const color = (s: string) => (opts.ansi ? `\x1b[32m${s}\x1b[0m` : s);
  for (const word of SUMMARY_ORDER) {
    const these = tests.filter((t) => t.status === word);
    if (word === 'SKIPPED') {
      if (these.length) lines.push(`SKIPPED [${these.length}] tests/conftest.py:12: needs network`);
      continue;
    }
    for (const t of these) {
      if (word === 'PASSED') lines.push(`${color('PASSED')} ${t.id}`);
      else if (word === 'FAILED') lines.push(`${color('FAILED')} ${t.id} - assert 1 == 2`);
      else if (word === 'ERROR') lines.push(`${color('ERROR')} ${t.id} - RuntimeError: fixture broke`);
      else if (word === 'XFAIL') lines.push(`${color('XFAIL')} ${t.id} - known bug`);
      else lines.push(`${color('XPASS')} ${t.id}${opts.xpassDash ? ' -' : ''} known bug`);
    }
  }
  const count = (w: GenStatus) => tests.filter((t) => t.status === w).length;
  const parts = [
    [count('FAILED'), 'failed'],
    [count('PASSED'), 'passed'],
    [count('SKIPPED'), 'skipped'],
    [count('XFAIL'), 'xfailed'],
    [count('XPASS'), 'xpassed'],
    [count('ERROR'), 'errors'],
  ].filter(([n]) => (n as number) > 0);
  lines.push(`======== ${parts.map(([n, w]) => `${n} ${w}`).join(', ')} in ${rng.int(1, 90) / 10}s ========`);
  return lines;
}

/** One pytest item; `n` numbers it. */
export function pytestItem(rng: Rng, n: number): CorpusItem {
  const [repo, officialParser] = rng.pick(REPOS);
  const tests = makeTests(rng, rng.int(3, 12));
  const good = rng.chance(0.5);
  const traits: string[] = [];
  const f2p = rng.sample(tests, rng.int(1, Math.min(3, tests.length)));
  const p2p = rng.sample(
    tests.filter((t) => !f2p.includes(t)),
    rng.int(0, tests.length - f2p.length)
  );
  for (const t of tests) t.status = genStatus(rng, good && (f2p.includes(t) || p2p.includes(t)));
  // A teardown error: the test is reported PASSED, then ERROR.
  const teardown = rng.chance(0.08) ? rng.pick(tests) : null;
  const verbose = rng.chance(0.5);
  const bare = verbose && rng.chance(0.2);
  const xdist = !verbose && rng.chance(0.2);
  const ansi = rng.chance(0.05);
  const crlf = rng.chance(0.05);
  for (const [on, trait] of [
    [ansi, 'ansi'],
    [verbose, 'verbose'],
    [bare, 'bare-verbose'],
    [crlf, 'crlf'],
  ] as const)
    if (on) traits.push(trait);
  const body = pytestBody(rng, tests, {
    verbose,
    bare,
    xdist,
    ansi,
    xpassDash: rng.chance(0.5),
    capturedLog: rng.chance(0.15),
  });
  if (teardown && teardown.status === 'PASSED') {
    body.splice(body.length - 1, 0, `ERROR ${teardown.id} - teardown failed`);
    teardown.status = 'ERROR';
  }
  const fullIds = rng.chance(0.5);
  if (fullIds) traits.push('full-space-ids');
  const family = parserFamily(officialParser)!;
  const listId = (t: PyTest) => (fullIds ? t.id : officialTestId(family, t.id));
  const FAIL_TO_PASS = f2p.map(listId);
  if (rng.chance(0.1)) FAIL_TO_PASS.push('tests/test_missing.py::test_not_in_log');
  const failing = tests.some((t) => t.status === 'FAILED' || t.status === 'ERROR');
  return {
    id: `pytest-${n}`,
    scenario: 'pytest',
    repo,
    parser: parserFamily(officialParser)!,
    officialParser,
    output: crlf ? evalLog(body, failing ? 1 : 0).replaceAll('\n', '\r\n') : evalLog(body, failing ? 1 : 0),
    exitCode: 0,
    timedOut: false,
    patch: 'diff --git a/src/x.py b/src/x.py\n',
    FAIL_TO_PASS,
    PASS_TO_PASS: p2p.map(listId),
    traits,
  };
}
