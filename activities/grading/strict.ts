/**
 * bottega's strict check: the grading it did before following swebench exactly, kept as a second
 * opinion beside the official verdict (see {@link StrictCheck}).
 */
import type { InstanceReport, StrictCheck, TestStatus } from '../../contracts/grading';
import type { GradeInput } from './grade';
import { matchTest } from './match-test';
import { type OfficialLogEval, resolveCase } from './official';
import { isPass, knownStatuses } from './parsers/index';
import { judgeLog } from './verdict';

/**
 * The strict verdict of one graded run and why it departs from the official one. The log must pass
 * {@link judgeLog} (last exit-code line, whole-marker slicing, a suite that visibly ran); each task
 * test takes bottega's strict reading of the log (whole ids, progress lines, XPASS as PASSED,
 * unittest's expected failure/unexpected success, either Python id spelling), else the official
 * parser's status for it; F2P must pass, P2P pass or skip. Reasons: `rejects_log: <why>` (the
 * official grading accepted the log), `accepts_log: <official reason>`, and per task test whose
 * outcome differs, `test_passes:`/`test_fails: <list> "<id>" strict <status>, official <status>`.
 * A missing or unapplied patch has nothing to check.
 */
export function strictCheck(input: GradeInput, official: OfficialLogEval, report: InstanceReport): StrictCheck {
  if (input.patch === null || !input.applied) return { resolved: false, reasons: [] };
  const verdict = judgeLog(input.parser, input.log);
  if (!verdict.valid) {
    return { resolved: false, reasons: official.found ? [`rejects_log: ${verdict.reason ?? 'invalid_log'}`] : [] };
  }
  const reasons = official.found ? [] : [`accepts_log: ${official.reason ?? 'not_found'}`];
  const fallback = knownStatuses(official.parsed);
  let resolved = true;
  for (const list of ['FAIL_TO_PASS', 'PASS_TO_PASS'] as const) {
    for (const id of input.task[list]) {
      const key = resolveCase(id, official.parsed);
      const theirs = key === null ? undefined : official.parsed[key];
      const status: TestStatus | undefined =
        matchTest(id, verdict.statuses) ?? (key === null ? undefined : fallback[key]);
      const ok = isPass(status) || (list === 'PASS_TO_PASS' && status === 'SKIPPED');
      if (!ok) resolved = false;
      if (!official.found || ok === report.tests_status[list].success.includes(id)) continue;
      reasons.push(
        `${ok ? 'test_passes' : 'test_fails'}: ${list} ${JSON.stringify(id)} strict ${status ?? 'missing'}, official ${theirs ?? 'missing'}`
      );
    }
  }
  return { resolved, reasons };
}
