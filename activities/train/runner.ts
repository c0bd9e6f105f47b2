import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SlurmSshConfig } from '../../contracts';

/** Result of one command. */
export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs Slurm commands: on this host, or on a login node over SSH. */
export interface CommandRunner {
  /** Where commands run, for messages. */
  readonly where: string;
  /** Runs `cmd args…` (never through a local shell), feeding `input` to stdin. */
  run(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
}

function execP(file: string, args: string[], input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          // spawn failure (ENOENT) or timeout kill: not an exit status
          reject(new Error(`${file} ${args.slice(0, 3).join(' ')}: ${err.message}`));
          return;
        }
        resolve({ stdout, stderr, code: err ? (err.code as number) : 0 });
      }
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** Runs commands on this host with execFile. */
export function localRunner(): CommandRunner {
  return {
    where: 'local',
    run: (cmd, args, opts = {}) => execP(cmd, args, opts.input, opts.timeoutMs ?? 60_000),
  };
}

/** POSIX single-quoting for one word of a remote command line. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs commands on a login node with the system `ssh` client: BatchMode (a missing key fails
 * instead of prompting), the key from the file named by `key_env` (or the agent), and one
 * multiplexed connection reused for a minute so a poll costs a round trip, not a handshake.
 */
export function sshRunner(cfg: SlurmSshConfig, env: NodeJS.ProcessEnv, home: string): CommandRunner {
  const keyPath = cfg.key_env ? env[cfg.key_env] : undefined;
  if (cfg.key_env && !keyPath) throw new Error(`ssh: env var ${cfg.key_env} (private key path) is not set`);
  const sshDir = join(home, 'ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  // ControlPath must stay short (sun_path is 108 bytes): use the temp dir, keyed by target.
  const control = join(tmpdir(), `bottega-ssh-%C`);
  const base = [
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=15',
    '-o',
    `UserKnownHostsFile=${cfg.known_hosts ?? join(sshDir, 'known_hosts')}`,
    '-o',
    `StrictHostKeyChecking=${cfg.known_hosts ? 'yes' : 'accept-new'}`,
    '-o',
    'ControlMaster=auto',
    '-o',
    `ControlPath=${control}`,
    '-o',
    'ControlPersist=60',
    '-o',
    'ServerAliveInterval=15',
    '-p',
    String(cfg.port),
    ...(keyPath ? ['-i', keyPath, '-o', 'IdentitiesOnly=yes'] : []),
    '-l',
    cfg.user,
    cfg.host,
    '--',
  ];
  return {
    where: `${cfg.user}@${cfg.host}:${cfg.port}`,
    async run(cmd, args, opts = {}) {
      const line = [cmd, ...args].map(shQuote).join(' ');
      const r = await execP('ssh', [...base, line], opts.input, opts.timeoutMs ?? 60_000);
      // 255 is ssh's own failure (connection, auth): retryable, not the command's status.
      if (r.code === 255) throw new Error(`ssh ${cfg.user}@${cfg.host}:${cfg.port}: ${r.stderr.trim()}`);
      return r;
    },
  };
}
