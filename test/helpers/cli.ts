import { spawn, type ChildProcess } from 'node:child_process';

/** What a CLI process printed, and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI (`bin/bottega.mjs`, from the repository root) in its own process with `env`;
 * resolves when it has exited and its output is read. `track` receives the child at once, so a
 * test can kill what is still running when it ends.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, track?: (p: ChildProcess) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['bin/bottega.mjs', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    track?.(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
