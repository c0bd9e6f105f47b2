/** Exact port of swebench 5.0.2's `parse_log_pytest_v2` (astropy, scikit-learn, sphinx). */
import { PyDict, pySplit } from './python-text';
import { SWEBENCH_STATUSES, isSkipSummary, startsWithStatus } from './swebench-pytest';

const COLOUR = /\[\p{Nd}+m/gu;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x01-\x1f]/g;

/**
 * `parse_log_pytest_v2`: colour codes (`[32m`) and control characters (tab included) removed; a
 * line starting with a status word keys the rest of the line, words joined by one space (so
 * `XFAIL t - reason` is keyed `t - reason`); `FAILED` lines are cut at their first ` - `. Otherwise
 * a line ending in a status word (older pytest's `t PASSED`) keys what precedes it.
 */
export function parseLogPytestV2(log: string): Record<string, string> {
  const map = new PyDict();
  for (const raw of log.split('\n')) {
    let line = raw.replace(COLOUR, '').replace(CONTROL, '');
    if (startsWithStatus(line)) {
      if (line.startsWith('FAILED')) line = line.split(' - ')[0]!;
      const tc = pySplit(line);
      if (tc.length >= 2 && !isSkipSummary(tc[0]!, tc[1]!)) map.set(tc.slice(1).join(' '), tc[0]!);
    } else if (SWEBENCH_STATUSES.some((s) => line.endsWith(s))) {
      const tc = pySplit(line);
      if (tc.length >= 2) map.set(tc.slice(0, -1).join(' '), tc[tc.length - 1]!);
    }
  }
  return map.toObject();
}
