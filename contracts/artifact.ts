import { z } from 'zod';

/**
 * A reference to an immutable artifact in the artifact store. Workflow payloads carry only these,
 * never the data itself, so histories stay far below Temporal's payload limits.
 */
export const ArtifactRef = z.strictObject({
  /** `file:///abs/path` or `s3://bucket/key`. */
  uri: z.string().min(1),
  /** Hex SHA-256 of the stored bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a hex sha256'),
  /** Size in bytes. */
  bytes: z.number().int().nonnegative(),
  /** Number of records (JSONL lines) or null for opaque blobs. */
  records: z.number().int().nonnegative().nullable(),
  /** Schema version of the content, bumped when the record shape changes. */
  schemaVersion: z.number().int().positive().default(1),
  /** Which run produced it (lineage). */
  producer: z.strictObject({ workflowId: z.string(), runId: z.string(), step: z.string() }).optional(),
});
export type ArtifactRef = z.infer<typeof ArtifactRef>;
