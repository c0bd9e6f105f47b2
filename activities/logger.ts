import { pino, type Logger } from 'pino';

/** Process-wide structured logger. Level from BOTTEGA_LOG_LEVEL (default info). */
export const rootLogger: Logger = pino({
  level: process.env.BOTTEGA_LOG_LEVEL ?? 'info',
  base: { service: 'bottega' },
});

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
