/** Exact port of swebench 5.0.2's `parse_log_seaborn`. */
import { PyDict, pySplit } from './python-text';

/**
 * `parse_log_seaborn`: `FAILED id …` → FAILED; a line containing ` PASSED ` whose second word is
 * `PASSED` (a `-v` progress line) → its first word PASSED; else `PASSED id` → PASSED. Nothing else
 * is recorded (no skips, errors or xfails).
 */
export function parseLogSeaborn(log: string): Record<string, string> {
  const map = new PyDict();
  for (const line of log.split('\n')) {
    const parts = pySplit(line);
    if (parts.length < 2) continue;
    if (line.startsWith('FAILED')) map.set(parts[1]!, 'FAILED');
    else if (line.includes(' PASSED ')) {
      if (parts[1] === 'PASSED') map.set(parts[0]!, 'PASSED');
    } else if (line.startsWith('PASSED')) map.set(parts[1]!, 'PASSED');
  }
  return map.toObject();
}
