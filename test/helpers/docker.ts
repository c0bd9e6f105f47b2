/**
 * Docker for integration tests: a client for the local engine, or a reason to skip when none
 * answers. Under CI (`process.env.CI` set) a missing engine is a failure, not a skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';

/** A connected client, or `{ skip }` with the reason no engine answered. */
export async function dockerOrSkip(): Promise<
  { docker: Docker; skip?: undefined } | { docker?: undefined; skip: string }
> {
  const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000)),
    ]);
    return { docker };
  } catch (err) {
    const reason = `no Docker engine (${err instanceof Error ? err.message : String(err)}); start one with \`bash infra/dev.sh up docker\``;
    if (process.env.CI) throw new Error(`CI requires Docker: ${reason}`);
    return { skip: reason };
  }
}

/**
 * pytest and a build backend as wheels, downloaded once on the host (which reaches PyPI) and
 * cached under `$BOTTEGA_HOME/cache/test-wheelhouse`: containers install from it offline.
 */
export function testWheelhouse(bottegaHome: string): string {
  const wheelhouse = join(bottegaHome, 'cache', 'test-wheelhouse');
  const have = existsSync(wheelhouse) ? readdirSync(wheelhouse) : [];
  if (['pytest-', 'setuptools-', 'wheel-'].every((p) => have.some((f) => f.startsWith(p)))) return wheelhouse;
  mkdirSync(wheelhouse, { recursive: true });
  execFileSync(
    'python3',
    ['-m', 'pip', 'download', '-q', '--only-binary=:all:', '-d', wheelhouse, 'pytest<9', 'setuptools<81', 'wheel'],
    { stdio: 'inherit' }
  );
  return wheelhouse;
}
