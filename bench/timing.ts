import Docker from 'dockerode';

/** Untimed rounds before measuring. */
export const WARMUPS = 5;

/** Mean, median and 95th percentile of a list of milliseconds. */
export interface Stats {
  mean: number;
  p50: number;
  p95: number;
}

export function stats(ms: number[]): Stats {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p95: at(0.95) };
}

/**
 * Times each of `fns` `runs` times, interleaved (one call of each per round, the order rotating),
 * after {@link WARMUPS} untimed rounds, so drift in the engine hits every method alike. Returns
 * milliseconds per call, per method.
 */
export async function timeInterleaved(runs: number, fns: (() => Promise<void>)[]): Promise<number[][]> {
  const out: number[][] = fns.map(() => []);
  for (let r = 0; r < WARMUPS + runs; r++) {
    for (let k = 0; k < fns.length; k++) {
      const i = (r + k) % fns.length;
      const t0 = performance.now();
      await fns[i]!();
      if (r >= WARMUPS) out[i]!.push(performance.now() - t0);
    }
  }
  return out;
}

/** `true` through the raw exec API: create, start (hijacked), wait for the stream to end, inspect. */
export async function rawExec(container: Docker.Container): Promise<void> {
  const exec = await container.exec({ Cmd: ['true'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((done) => {
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', () => done());
    stream.resume();
  });
  const info = await exec.inspect();
  if (info.ExitCode !== 0) throw new Error(`exec true exited ${info.ExitCode}`);
}

/**
 * A client for the local Docker engine, or null (after printing how to start one) when it does not
 * answer within 5 s.
 */
export async function connectDocker(): Promise<Docker | null> {
  const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000)),
    ]);
    return docker;
  } catch (err) {
    console.error(`no Docker engine (${(err as Error).message}); start one with \`bash infra/dev.sh up docker\``);
    return null;
  }
}
