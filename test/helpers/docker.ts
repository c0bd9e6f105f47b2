/**
 * Docker for integration tests: a client for the local engine, or a reason to skip when none
 * answers. Under CI (`process.env.CI` set) a missing engine is a failure, not a skip.
 */
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

export { fixtureWheelhouse as testWheelhouse } from '../../infra/fixtures/wheelhouse';
