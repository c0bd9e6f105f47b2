/** Image building and running on a local Docker engine (base → env → instance). */
export { ensureBaseImage, BUILD_BASE_SCRIPT } from './base-image';
export { BuildContext } from './context';
export {
  buildEnvImage,
  VENV,
  IMAGE_PATH,
  repoContext,
  venvPreamble,
  type EnvImageOptions,
  type EnvImageResult,
} from './env-image';
export { ImageBuildError, type ImageBuildReason, type ImageStage } from './errors';
export {
  listBottegaImages,
  pruneImages,
  touchImage,
  type BottegaImage,
  type PruneOptions,
  type PruneResult,
} from './gc';
export { cloneAndScrub, assertNoFutureCommits } from './git-scrub';
export { buildInstanceImage, type InstanceImageOptions, type InstanceImageResult } from './instance-image';
export { runInContainer, execInContainer, type RunOptions, type RunResult, type ExecResult } from './run';
export { prepareRun, type PreparedRun } from './prepared-run';
export { RunPipeline, type RunPipelineOptions, type RunPipelineStats } from './run-pipeline';
export { envImageTag, instanceImageTag, contentHash, canonicalJson, directoryDigest } from './tags';
export { putFiles, filesArchive, type ContainerFile } from './put-files';
