/**
 * The check a stage's planning makes before any work: every upstream artifact the stage will read
 * exists with the size and sha256 its producer recorded. A missing or altered one fails the stage
 * at once (non-retryable, naming the artifact key and the stage that produced it) instead of after
 * the stage's activities have retried ENOENT five times, or trained on altered bytes.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactRef, StageName } from '../../contracts';
import type { ArtifactStore } from './artifact-store';
import { describeProblem, verifyArtifacts, type VerifyOptions, type VerifyResult } from './verify';

/** ApplicationFailure type of an upstream artifact that is gone. */
export const UPSTREAM_MISSING = 'UpstreamArtifactMissing';
/** ApplicationFailure type of an upstream artifact whose bytes no longer match their sha256. */
export const UPSTREAM_CORRUPT = 'UpstreamArtifactCorrupt';

/** One artifact a stage reads from an earlier stage. */
export interface StageInputRef {
  /** The stage that produced it. */
  stage: StageName;
  /** Its name in that stage's result, e.g. `artifacts.general` or `mine.general`. */
  name: string;
  ref: ArtifactRef;
}

/**
 * Verifies the upstream artifacts `stage` consumes; throws a non-retryable ApplicationFailure
 * ({@link UPSTREAM_MISSING} or {@link UPSTREAM_CORRUPT}) naming the first bad one. Store errors
 * other than "not found" are thrown as they are (retryable: the store may come back).
 */
export async function checkStageInputs(
  store: ArtifactStore,
  stage: StageName,
  inputs: StageInputRef[],
  opts: Pick<VerifyOptions, 'onProgress'> = {}
): Promise<VerifyResult> {
  let hashedBytes = 0;
  let checked = 0;
  for (const input of inputs) {
    const r = await verifyArtifacts(store, [input.ref], {
      onProgress: (n) => opts.onProgress?.(hashedBytes + n),
    });
    hashedBytes += r.hashedBytes;
    checked += r.checked;
    const p = r.problem;
    if (!p) continue;
    const what = `${input.name} of the ${input.stage} stage`;
    const fix =
      `rerun the ${input.stage} stage: \`bottega run SPEC --force ${input.stage}\` ` +
      `(or \`bottega retry ID ${input.stage}\`)`;
    throw ApplicationFailure.create({
      type: p.kind === 'missing' ? UPSTREAM_MISSING : UPSTREAM_CORRUPT,
      nonRetryable: true,
      message: `${stage} stage cannot start: upstream ${describeProblem(p)} (${what}, ${p.uri}); ${fix}`,
      details: [{ stage, producer: input.stage, name: input.name, problem: p }],
    });
  }
  return { problem: null, checked, hashedBytes };
}
