/** Generated unittest (`python -m unittest -v`) and Django runner (`runtests.py -v 2`) logs for the parity corpus. */
import type { LogParserName } from '../../contracts/task';
import { type CorpusItem, type GenStatus, Rng, WORDS, evalLog, genStatus } from './log-corpus-common';

interface UtTest {
  id: string;
  status: GenStatus;
  /** First docstring line, printed under the id when set. */
  doc?: string;
}

const RESULT: Record<GenStatus, string> = {
  PASSED: 'ok',
  FAILED: 'FAIL',
  ERROR: 'ERROR',
  SKIPPED: "skipped 'not on this platform'",
  XFAIL: 'expected failure',
  XPASS: 'unexpected success',
};
const DOCS = [
  'Regression test for #12345.',
  'A model with a custom manager can be saved.',
  'Ensure the form renders errors.',
];

function makeTests(rng: Rng, n: number, py311: boolean): UtTest[] {
  const out: UtTest[] = [];
  const seen = new Set<string>();
  while (out.length < n) {
    const name = `test_${rng.pick(WORDS)}_${rng.int(0, 9)}`;
    const path = `${rng.pick(['admin_views', 'forms_tests', 'model_fields', 'utils_tests'])}.tests.${rng.pick(['Basic', 'Edge', 'Regression'])}Tests`;
    const id = py311 ? `${name} (${path}.${name})` : `${name} (${path})`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, status: 'PASSED', ...(rng.chance(0.1) ? { doc: `${rng.pick(DOCS)} (${out.length})` } : {}) });
  }
  return out;
}

/** A passing test whose result is not simply ` ... ok` on its line (Django's runner quirks). */
function pushedOk(rng: Rng, head: string, django: boolean): string[] {
  switch (rng.int(0, django ? 7 : 2)) {
    case 0:
      return [`${head} ... System check identified no issues (0 silenced).`, 'ok'];
    case 1:
      return [`${head} ... some output`, 'more output', 'ok'];
    case 2:
      return [`${head} ...  OK`];
    case 3:
      return [
        `${head} ... Testing against Django installed in '/testbed/django' with up to 4 processes`,
        'System check identified no issues (0 silenced).',
        'ok',
      ];
    case 4:
      return [`${head} ... Internal Server Error: /admin/x/`, 'ok'];
    case 5:
      return [`Applying sites.0002_alter_domain_unique...${head} ... ok`];
    case 6:
      return [
        'Applying sites.0002_alter_domain_unique...test_no_migrations (migrations.test_commands.MigrateTests) ... ok',
        `${head} ... ok`,
      ];
    default:
      return [`${head} ... usage: django-admin [-h] [--version]`, '--version is equivalent to version', 'ok'];
  }
}

/** The verbose runner output: one line per test (some with output between id and result), blocks, totals. */
function body(rng: Rng, tests: UtTest[], django: boolean): string[] {
  const lines: string[] = [];
  if (django)
    lines.push('Testing against Django installed in /testbed/django', 'Creating test database for alias default...');
  if (django && rng.chance(0.3))
    lines.push('Operations to perform:', '  Apply all migrations: admin, sites', '  Applying admin.0001_initial... OK');
  for (const t of tests) {
    const head = t.doc ? `${t.id}\n${t.doc}` : t.id;
    if (t.status === 'PASSED' && rng.chance(0.2)) lines.push(...pushedOk(rng, head, django));
    else lines.push(`${head} ... ${RESULT[t.status]}`);
  }
  // Test output that looks like results: a bare `FAIL:` (parse_log_django raises on it), an `ok`.
  if (django && rng.chance(0.02)) lines.push('FAIL:');
  if (rng.chance(0.05)) lines.push('ok, moving on');
  for (const t of tests.filter((x) => x.status === 'FAILED' || x.status === 'ERROR')) {
    lines.push('', '======================================================================');
    lines.push(`${t.status === 'FAILED' ? 'FAIL' : 'ERROR'}: ${t.id}`);
    if (t.doc) lines.push(t.doc);
    lines.push(
      '----------------------------------------------------------------------',
      'Traceback (most recent call last):',
      'AssertionError: 1 != 2'
    );
  }
  lines.push(
    '',
    '----------------------------------------------------------------------',
    `Ran ${tests.length} tests in 0.${rng.int(10, 99)}s`,
    ''
  );
  const bad = tests.filter((t) => t.status === 'FAILED' || t.status === 'ERROR' || t.status === 'XPASS').length;
  lines.push(bad ? `FAILED (failures=${bad})` : 'OK');
  if (django) lines.push('Destroying test database for alias default...');
  return lines;
}

/** The other Python version's spelling of a unittest id. */
function otherSpelling(id: string): string {
  const m = /^(\w+) \(([\w.]+)\)$/.exec(id)!;
  const [, name, path] = m as unknown as [string, string, string];
  return path.endsWith(`.${name}`) ? `${name} (${path.slice(0, -name.length - 1)})` : `${name} (${path}.${name})`;
}

/** One unittest-style item (Django or plain unittest); `n` numbers it. */
export function unittestItem(rng: Rng, n: number, parser: Extract<LogParserName, 'unittest' | 'django'>): CorpusItem {
  const django = parser === 'django';
  const tests = makeTests(rng, rng.int(3, 10), rng.chance(0.4));
  const good = rng.chance(0.5);
  const f2p = rng.sample(tests, rng.int(1, Math.min(3, tests.length)));
  const p2p = rng.sample(
    tests.filter((t) => !f2p.includes(t)),
    rng.int(0, tests.length - f2p.length)
  );
  for (const t of tests) t.status = genStatus(rng, good && (f2p.includes(t) || p2p.includes(t)));
  const traits: string[] = [];
  // SWE-bench's Django lists name a test by its docstring when one is shown.
  const listId = (t: UtTest) => t.doc ?? t.id;
  const FAIL_TO_PASS = f2p.map(listId);
  if (rng.chance(0.1)) {
    traits.push('other-python-spelling');
    FAIL_TO_PASS[0] = f2p[0]!.doc ?? otherSpelling(f2p[0]!.id);
  }
  const failing = tests.some((t) => t.status === 'FAILED' || t.status === 'ERROR' || t.status === 'XPASS');
  return {
    id: `${parser}-${n}`,
    scenario: parser,
    repo: django ? 'django/django' : 'example/unittest-lib',
    parser,
    officialParser: 'parse_log_django',
    output: evalLog(body(rng, tests, django), failing ? 1 : 0),
    exitCode: 0,
    timedOut: false,
    patch: 'diff --git a/src/x.py b/src/x.py\n',
    FAIL_TO_PASS,
    PASS_TO_PASS: p2p.map(listId),
    traits,
  };
}
