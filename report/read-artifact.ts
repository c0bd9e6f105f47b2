import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StoreConfig } from '../contracts';
import { S3ArtifactStore, s3SettingsFromEnv } from '../activities/store/artifact-store';

/** Reads an artifact's bytes by its URI. */
export type ArtifactReader = (uri: string) => Promise<Buffer>;

/**
 * A reader for any artifact URI: `file://` from the local disk, `s3://` from its bucket with the S3
 * settings of `store` (default: the spec defaults, i.e. `BOTTEGA_S3_ENDPOINT` and the AWS variables).
 * The store is inferred from each URI, so a report needs no spec to read what an experiment wrote.
 */
export function artifactReader(env: NodeJS.ProcessEnv = process.env, store?: StoreConfig): ArtifactReader {
  const buckets = new Map<string, S3ArtifactStore>();
  const s3 = (store ?? StoreConfig.parse({})).s3;
  return async (uri) => {
    if (uri.startsWith('file://')) return readFile(fileURLToPath(uri));
    const m = /^s3:\/\/([^/]+)\//.exec(uri);
    if (!m) throw new Error(`cannot read artifact ${uri}: expected a file:// or s3:// URI`);
    let st = buckets.get(m[1]!);
    if (!st) {
      st = new S3ArtifactStore(`s3://${m[1]}`, s3SettingsFromEnv(s3, env));
      buckets.set(m[1]!, st);
    }
    return st.get(uri);
  };
}
