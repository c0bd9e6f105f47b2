/**
 * Docker for integration tests: a client for the local engine. A missing engine fails the file at
 * once (see ./prereq.ts), or skips it when BOTTEGA_TEST_ALLOW_MISSING names docker.
 */
import Docker from 'dockerode';
import { prerequisites, type Prereq } from './prereq';

/**
 * A client for the local engine after checking `docker` and any other prerequisites of the file;
 * `{ skip }` only when they are missing and allowed to be.
 */
export async function dockerOrSkip(
  ...others: Prereq[]
): Promise<{ docker: Docker; skip?: undefined } | { docker?: undefined; skip: string }> {
  const skip = await prerequisites('docker', ...others);
  if (skip) return { skip };
  return { docker: new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' }) };
}

export { fixtureWheelhouse as testWheelhouse } from '../../infra/fixtures/wheelhouse';
