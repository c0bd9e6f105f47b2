import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * A path part made of safe characters only: anything else becomes `_`, and a short hash of the
 * original is appended whenever something changed, so that two ids never share a file.
 */
export function safePathPart(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  if (clean === s && s !== '.' && s !== '..' && s !== '') return s;
  return `${clean.replace(/^\.+/, '_') || '_'}-${createHash('sha256').update(s).digest('hex').slice(0, 8)}`;
}

let workerHome: string | undefined;

/**
 * Sets the home the log files go under (the worker's `BOTTEGA_HOME`, which `createWorkers` may take
 * from an env object rather than the process's). `undefined` goes back to the process's.
 */
export function setLogHome(home: string | undefined): void {
  workerHome = home;
}

/** The home set by {@link setLogHome}, else `$BOTTEGA_HOME` as the process sees it now (default `.bottega`), absolute. */
export function bottegaHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(workerHome ?? env.BOTTEGA_HOME ?? '.bottega');
}

/** Where the worker-side log lines of one experiment's stage go: `<home>/logs/experiments/<id>/<stage>.jsonl`. */
export function stageLogPath(home: string, experimentId: string, stage: string): string {
  return join(home, 'logs', 'experiments', safePathPart(experimentId), `${safePathPart(stage)}.jsonl`);
}

/** Options of {@link experimentLogDestination}. */
export interface ExperimentLogDestinationOptions {
  /** Root directory, read at every line (default: `$BOTTEGA_HOME` of the process, at that time). */
  home?: () => string;
}

/**
 * A pino destination (for `pino.multistream`) that appends each line carrying both
 * `experimentId` and `stage` to {@link stageLogPath}. Appends are synchronous (the volume is
 * low: a few lines per activity) and errors are swallowed: logging never fails an activity.
 */
export function experimentLogDestination(opts: ExperimentLogDestinationOptions = {}): { write(line: string): void } {
  const home = opts.home ?? (() => bottegaHome());
  const made = new Set<string>();
  return {
    write(line: string) {
      // Cheap test before parsing: most lines (worker, SDK) carry no experiment.
      if (!line.includes('"experimentId"') || !line.includes('"stage"')) return;
      try {
        const rec = JSON.parse(line) as { experimentId?: unknown; stage?: unknown };
        if (typeof rec.experimentId !== 'string' || typeof rec.stage !== 'string' || !rec.experimentId) return;
        const path = stageLogPath(home(), rec.experimentId, rec.stage);
        const text = line.endsWith('\n') ? line : `${line}\n`;
        if (!made.has(path)) {
          mkdirSync(dirname(path), { recursive: true });
          made.add(path);
        }
        try {
          appendFileSync(path, text);
        } catch {
          // The directory was removed since: make it again once.
          mkdirSync(dirname(path), { recursive: true });
          appendFileSync(path, text);
        }
      } catch {
        // Never throw into the logger.
      }
    },
  };
}
