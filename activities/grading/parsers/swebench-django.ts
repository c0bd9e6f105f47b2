/** Exact port of swebench 5.0.2's `parse_log_django` (Django's `runtests.py --verbosity 2`). */
import { PY_WS, PyDict, PythonParserError, pyLstrip, pyRsplitFirst, pySplit, pyStrip } from './python-text';

const PASS_SUFFIXES = [' ... ok', ' ... OK', ' ...  OK'];
const MIGRATION_NOISE = 'Applying sites.0002_alter_domain_unique...test_no_migrations';
const VERSION_HELP = '--version is equivalent to version';

/** Python `re.MULTILINE` anchors: `^` at the start or after `\n`, `$` before `\n` or at the end. */
const BOL = '(?<=^|\\n)';
const EOL = '(?=\\n|$)';
/** A test's output pushed its `ok` onto the next line (swebench's three known forms). */
const SPLIT_OK = [
  `${BOL}([^\\n]*?)${PY_WS}\\.\\.\\.${PY_WS}Testing against Django installed in ([\\s\\S]*?) silenced\\)\\.\\nok${EOL}`,
  `${BOL}([^\\n]*?)${PY_WS}\\.\\.\\.${PY_WS}Internal Server Error: \\/([^\\n]*)\\/\\nok${EOL}`,
  `${BOL}([^\\n]*?)${PY_WS}\\.\\.\\.${PY_WS}System check identified no issues \\(0 silenced\\)\\nok${EOL}`,
].map((p) => new RegExp(p, 'gu'));

/** `line.split()[1].strip()`, raising like Python on a bare `FAIL:`. */
function secondWord(line: string): string {
  const w = pySplit(line)[1];
  if (w === undefined) throw new PythonParserError(`parse_log_django: IndexError on ${JSON.stringify(line)}`);
  return pyStrip(w);
}

/**
 * `parse_log_django`, line by line on stripped lines: `id ... ok`/`OK`/`  OK` → PASSED (the
 * django__django-7188 migration-noise prefix removed), `id ... skipped…` → SKIPPED, `id ... FAIL`
 * → FAILED, `id ... ERROR` → ERROR, `FAIL: x`/`ERROR: x` blocks → their second word; a line starting
 * with `ok` passes the last test seen with ` ... `; the `--version` help test passes when its line
 * appears; then three whole-log patterns for a result pushed onto the next line. Ids are what
 * precedes ` ... ` (a docstring line, when shown). Unexpected successes and expected failures are
 * not recorded. A bare `FAIL:`/`ERROR:` line raises, as in Python.
 */
export function parseLogDjango(log: string): Record<string, string> {
  const map = new PyDict();
  let prev: string | null = null;
  for (const raw of log.split('\n')) {
    let line = pyStrip(raw);
    if (line.includes(VERSION_HELP)) map.set(VERSION_HELP, 'PASSED');
    if (line.includes(' ... ')) prev = line.split(' ... ')[0]!;
    for (const suffix of PASS_SUFFIXES) {
      if (!line.endsWith(suffix)) continue;
      if (pyStrip(line).startsWith(MIGRATION_NOISE)) {
        const at = line.indexOf('...');
        line = pyStrip(at < 0 ? line : line.slice(at + 3));
      }
      map.set(pyRsplitFirst(line, suffix), 'PASSED');
      break;
    }
    if (line.includes(' ... skipped')) map.set(line.split(' ... skipped')[0]!, 'SKIPPED');
    if (line.endsWith(' ... FAIL')) map.set(line.split(' ... FAIL')[0]!, 'FAILED');
    if (line.startsWith('FAIL:')) map.set(secondWord(line), 'FAILED');
    if (line.endsWith(' ... ERROR')) map.set(line.split(' ... ERROR')[0]!, 'ERROR');
    if (line.startsWith('ERROR:')) map.set(secondWord(line), 'ERROR');
    if (pyLstrip(line).startsWith('ok') && prev !== null) map.set(prev, 'PASSED');
  }
  for (const pattern of SPLIT_OK) for (const m of log.matchAll(pattern)) map.set(m[1]!, 'PASSED');
  return map.toObject();
}
