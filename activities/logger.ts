import { pino, type Logger } from 'pino';
import { experimentLogDestination } from './log-files';
import { redact } from './secrets';

const level = process.env.BOTTEGA_LOG_LEVEL ?? 'info';

/** BOTTEGA_LOG_FILE: write the lines there instead of stdout (`bottega run --local-worker` keeps stdout for itself). */
const logFile = process.env.BOTTEGA_LOG_FILE;

/**
 * Process-wide structured logger. Level from BOTTEGA_LOG_LEVEL (default info). Lines go to
 * stdout (or BOTTEGA_LOG_FILE), and those with `experimentId` and `stage` also to
 * `$BOTTEGA_HOME/logs/experiments/<experimentId>/<stage>.jsonl` on this host (`bottega logs`).
 * Every line is redacted (activities/secrets.ts) before it is written to either.
 */
export const rootLogger: Logger = pino(
  // The serialized line, so message, bindings, fields and error stacks are all covered.
  { level, base: { service: 'bottega' }, hooks: { streamWrite: redact } },
  // Both streams take every level: the logger's own level decides what is written.
  pino.multistream([
    { level: 'trace', stream: pino.destination(logFile ? { dest: logFile, mkdir: true, append: true } : 1) },
    { level: 'trace', stream: experimentLogDestination() },
  ])
);

/** Standard structured fields on every pipeline log line. */
export interface LogFields {
  experimentId?: string;
  stage?: string;
  activity?: string;
  [key: string]: unknown;
}

/** A child logger carrying experiment id, stage and activity name. */
export function loggerFor(fields: LogFields): Logger {
  return rootLogger.child(fields);
}
