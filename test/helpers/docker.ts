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

import { fixtureWheelhouse } from '../../infra/fixtures/wheelhouse';
export { fixtureWheelhouse as testWheelhouse };

/**
 * The build section of a spec over fixture repositories: the tasks file, the repositories' paths and
 * the test wheelhouse, with `over` on top (validation runs, timeouts, concurrency).
 */
export function fixtureBuild(
  tasksFile: string,
  repos: readonly { repo: string; path: string }[],
  home: string,
  over: Record<string, unknown> = {}
): Record<string, unknown> {
  return {
    tasks: { files: [tasksFile] },
    repo_paths: Object.fromEntries(repos.map((r) => [r.repo, r.path])),
    wheelhouse: fixtureWheelhouse(home),
    ...over,
  };
}
