/** Exact port of swebench 5.0.2's `parse_log_sympy` (sympy's `bin/test`). */
import { PyDict, pySplit, pyStrip } from './python-text';

/** `re.findall(r"(_*) (.*)\.py:(.*) (_*)", log)`: Python's `.` stops only at `\n`. */
const FAILURE_HEADER = /(_*) ([^\n]*)\.py:([^\n]*) (_*)/g;

/**
 * `parse_log_sympy`: every `___ path.py:test_name ___` failure header anywhere in the log →
 * `path.py:test_name` FAILED; then each stripped line starting with `test_` and ending in ` E`,
 * ` F` or ` ok` (`bin/test --verbose`) records its first word as ERROR, FAILED or PASSED.
 */
export function parseLogSympy(log: string): Record<string, string> {
  const map = new PyDict();
  for (const m of log.matchAll(FAILURE_HEADER)) map.set(`${m[2]}.py:${m[3]}`, 'FAILED');
  for (const raw of log.split('\n')) {
    const line = pyStrip(raw);
    if (!line.startsWith('test_')) continue;
    if (line.endsWith(' E')) map.set(pySplit(line)[0]!, 'ERROR');
    if (line.endsWith(' F')) map.set(pySplit(line)[0]!, 'FAILED');
    if (line.endsWith(' ok')) map.set(pySplit(line)[0]!, 'PASSED');
  }
  return map.toObject();
}
