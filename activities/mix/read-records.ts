/**
 * Streams the records of a mix source or benchmark file: JSONL (one JSON object per line; a file
 * whose first character is `[` is read as a JSON array) or Parquet (row group by row group), from
 * a local path, a `file://` URI or an `s3://` URI. Memory stays flat in the file size for JSONL
 * and is bounded by one row group for Parquet.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { StoreConfig } from '../../contracts';
import { S3ArtifactStore, s3SettingsFromEnv } from '../store/artifact-store';
import { stripBom } from '../text-input';

/** One record read from a file, or the reason its line could not be parsed. */
export type RawRecord = { line: number; value: Record<string, unknown> } | { line: number; error: string };

/** Turns a spec path (relative path, absolute path, file:// or s3:// URI) into a URI. */
export function toUri(path: string, cwd = process.cwd()): string {
  if (/^(file|s3):\/\//.test(path)) return path;
  return pathToFileURL(resolve(cwd, path)).href;
}

/** Opens a `file://` or `s3://` URI as a byte stream. */
export async function openUri(uri: string, store: StoreConfig, env: NodeJS.ProcessEnv): Promise<Readable> {
  if (uri.startsWith('file://')) {
    const path = fileURLToPath(uri);
    await stat(path);
    return createReadStream(path);
  }
  if (uri.startsWith('s3://')) {
    const bucket = /^s3:\/\/([^/]+)/.exec(uri)![1]!;
    return new S3ArtifactStore(`s3://${bucket}`, s3SettingsFromEnv(store.s3, env)).open(uri);
  }
  throw new Error(`unsupported URI ${JSON.stringify(uri)}: expected a path, file:// or s3://`);
}

/** A local path holding the bytes of `uri` (downloaded to a temp file for s3://); `done()` removes the temp file. */
async function localCopy(
  uri: string,
  store: StoreConfig,
  env: NodeJS.ProcessEnv
): Promise<{ path: string; done: () => Promise<void> }> {
  if (uri.startsWith('file://')) return { path: fileURLToPath(uri), done: async () => {} };
  const dir = join(tmpdir(), 'bottega-mix-download');
  await mkdir(dir, { recursive: true });
  const path = join(dir, randomBytes(8).toString('hex'));
  await pipeline(await openUri(uri, store, env), createWriteStream(path));
  return { path, done: () => rm(path, { force: true }) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every record of the file at `uri`, in file order (Parquet when the name ends in `.parquet`). */
export async function* readRecords(uri: string, store: StoreConfig, env: NodeJS.ProcessEnv): AsyncGenerator<RawRecord> {
  if (/\.parquet$/i.test(uri)) {
    yield* readParquet(uri, store, env);
    return;
  }
  const stream = await openUri(uri, store, env);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  let arrayText: string[] | null = null;
  for await (const raw of lines) {
    n++;
    const line = n === 1 ? stripBom(raw) : raw;
    if (arrayText) {
      arrayText.push(line);
      continue;
    }
    if (n === 1 && line.trimStart().startsWith('[')) {
      arrayText = [line];
      continue;
    }
    if (!line.trim()) continue;
    yield parseLine(line, n);
  }
  if (arrayText) {
    const all = JSON.parse(arrayText.join('\n')) as unknown;
    if (!Array.isArray(all)) throw new Error(`${uri}: expected a JSON array or JSONL`);
    let i = 0;
    for (const v of all) {
      i++;
      yield isObject(v) ? { line: i, value: v } : { line: i, error: 'not a JSON object' };
    }
  }
}

function parseLine(line: string, n: number): RawRecord {
  try {
    const v = JSON.parse(line) as unknown;
    return isObject(v) ? { line: n, value: v } : { line: n, error: 'not a JSON object' };
  } catch (err) {
    return { line: n, error: `bad JSON: ${(err as Error).message}` };
  }
}

async function* readParquet(uri: string, store: StoreConfig, env: NodeJS.ProcessEnv): AsyncGenerator<RawRecord> {
  const local = await localCopy(uri, store, env);
  try {
    const file = await asyncBufferFromFile(local.path);
    const metadata = await parquetMetadataAsync(file);
    let row = 0;
    for (const rg of metadata.row_groups) {
      const rows = Number(rg.num_rows);
      const objects = await parquetReadObjects({ file, metadata, rowStart: row, rowEnd: row + rows });
      for (const o of objects) {
        row++;
        yield { line: row, value: jsonSafe(o) as Record<string, unknown> };
      }
    }
  } finally {
    await local.done();
  }
}

/** Parquet values as plain JSON (bigint → number, dates → ISO strings). */
function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}
