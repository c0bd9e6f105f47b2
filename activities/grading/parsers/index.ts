import type { TestStatusMap } from '../../../contracts/grading';
import type { LogParserName } from '../../../contracts/task';
import { parseDjangoLog } from './django';
import { parseJunitLog } from './junit';
import { parsePytestLog } from './pytest';
import { parseUnittestLog } from './unittest';

export { parseDjangoLog } from './django';
export { extractJunitXml, parseJunitLog } from './junit';
export { parsePytestLog } from './pytest';
export { parseUnittestLog, parseUnittestStyleLog } from './unittest';
export { isFail, isPass, stripAnsi } from './common';

const PARSERS: Record<LogParserName, (log: string) => TestStatusMap> = {
  pytest: parsePytestLog,
  unittest: parseUnittestLog,
  django: parseDjangoLog,
  junit: parseJunitLog,
};

/** Parses a test log with the named parser into test id → status. */
export function parseTestLog(name: LogParserName, log: string): TestStatusMap {
  return PARSERS[name](log);
}
