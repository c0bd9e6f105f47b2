/** Which image layer a build failure belongs to. */
export type ImageStage = 'base' | 'env' | 'instance';

/**
 * Why an image build failed:
 * - `install_failed`: a recipe step (apt, pip, pre_install, install) exited non-zero, or the recipe
 *   asks for something the build cannot do (e.g. system packages without network);
 * - `timeout`: the build ran past its deadline and was abandoned;
 * - `git_failed`: preparing the repository on the host failed (clone, checkout, scrub);
 * - `history_leak`: the scrubbed repository still holds commits that are not ancestors of the base;
 * - `base_missing`: the base image could not be built or found;
 * - `docker_error`: anything else the engine reported.
 */
export type ImageBuildReason =
  'install_failed' | 'timeout' | 'git_failed' | 'history_leak' | 'base_missing' | 'docker_error';

/**
 * A failed image build. Carries the full build log, which the caller stores as an artifact (the
 * message only has the gist).
 */
export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
  constructor(
    readonly stage: ImageStage,
    readonly reason: ImageBuildReason,
    /** What went wrong, without the stage/reason prefix of `message`. */
    readonly detail: string,
    /** The whole build log, as far as it got. */
    readonly log: string
  ) {
    super(`${stage} image: ${reason}: ${detail}`);
  }
}
