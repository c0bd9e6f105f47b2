import { z } from 'zod';
import { ArtifactRef, Producer } from '../../contracts';
import type { ArtifactStore } from './artifact-store';
import { canonicalHash } from './canonical';
import { verifyArtifacts, type ArtifactProblem, type VerifyOptions } from './verify';

/**
 * Cross-run step cache (Temporal has none). A stage's completed output is stored under a key
 * derived from the stage name, its code version, the canonical hash of its input, the references
 * of its upstream artifacts and an environment digest (e.g. the tokenizer's fingerprint).
 */
export const StepCacheEntry = z.strictObject({
  key: z.string(),
  stage: z.string(),
  version: z.string(),
  producer: Producer,
  createdAt: z.string(),
  /** Every artifact the result references; all must still exist for a hit. */
  artifacts: z.array(ArtifactRef),
  result: z.unknown(),
});
export type StepCacheEntry = z.infer<typeof StepCacheEntry>;

/** What goes into a cache key. */
export interface StepKeyInput {
  stage: string;
  version: string;
  input: unknown;
  upstream: ArtifactRef[];
  environment: Record<string, string>;
}

/** The cache key of a step: hex sha256 over its canonical description. */
export function stepCacheKey(k: StepKeyInput): string {
  return canonicalHash({
    stage: k.stage,
    version: k.version,
    input: k.input,
    // Upstream identity is content, not location.
    upstream: k.upstream.map((r) => r.sha256),
    environment: k.environment,
  });
}

const entryKey = (stage: string, key: string) => `cache/${stage}/${key}.json`;

/**
 * Result of a lookup: a hit, or a miss with the reason (for logs and the summary): `corrupt` is an
 * unreadable entry, `artifact_missing`/`artifact_corrupt` an output that is gone or whose bytes no
 * longer match their recorded size and sha256 (`problem` names it).
 */
export type CacheLookup =
  | { hit: true; entry: StepCacheEntry }
  | {
      hit: false;
      reason: 'absent' | 'artifact_missing' | 'artifact_corrupt' | 'corrupt';
      missing?: string;
      problem?: ArtifactProblem;
    };

/**
 * Finds a usable entry: present, parseable, and every artifact it names (and every artifact a JSON
 * one lists, e.g. a mix manifest's shards) still exists with its recorded size and sha256.
 */
export async function lookupStep(
  store: ArtifactStore,
  stage: string,
  key: string,
  opts: Pick<VerifyOptions, 'onProgress'> = {}
): Promise<CacheLookup> {
  const uri = store.uriFor(entryKey(stage, key));
  if (!(await store.exists(uri))) return { hit: false, reason: 'absent' };
  let entry: StepCacheEntry;
  try {
    entry = StepCacheEntry.parse(JSON.parse((await store.get(uri)).toString('utf8')));
  } catch {
    return { hit: false, reason: 'corrupt' };
  }
  const { problem } = await verifyArtifacts(store, entry.artifacts, opts);
  if (problem?.kind === 'missing') return { hit: false, reason: 'artifact_missing', missing: problem.uri, problem };
  if (problem) return { hit: false, reason: 'artifact_corrupt', problem };
  return { hit: true, entry };
}

/** Records a completed step. */
export async function recordStep(store: ArtifactStore, entry: StepCacheEntry): Promise<ArtifactRef> {
  return store.put(entryKey(entry.stage, entry.key), JSON.stringify(entry, null, 2) + '\n', { records: null });
}

/** Collects every ArtifactRef-shaped object inside a result, for existence checks. */
export function collectRefs(value: unknown, out: ArtifactRef[] = []): ArtifactRef[] {
  if (Array.isArray(value)) for (const v of value) collectRefs(v, out);
  else if (value && typeof value === 'object') {
    const r = ArtifactRef.safeParse(value);
    if (r.success) out.push(r.data);
    else for (const v of Object.values(value)) collectRefs(v, out);
  }
  return out;
}
