import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
  CreateBucketCommand,
  HeadBucketCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ArtifactRef, StoreConfig } from '../../contracts';
import { checkStoreKey } from '../../contracts/safe-names';
import { readSecret, redact } from '../secrets';
import { presignGetUrl } from './presign';

/** Options recorded on a written artifact. */
export interface PutOptions {
  /** Number of records (JSONL lines); null for opaque blobs. */
  records?: number | null;
  schemaVersion?: number;
  producer?: ArtifactRef['producer'];
}

/**
 * Content store for stage outputs. Writes are atomic: a reader sees the whole object or nothing
 * (temp file + rename locally; single PUT or a completed multipart upload on S3).
 */
export interface ArtifactStore {
  /** Root URI, e.g. `file:///x/.bottega/artifacts` or `s3://bucket/prefix`. */
  readonly root: string;
  /** URI of a key under the root. */
  uriFor(key: string): string;
  /** Writes bytes under `key`; a string has every registered secret redacted first (../secrets.ts). */
  put(key: string, data: string | Uint8Array, opts?: PutOptions): Promise<ArtifactRef>;
  /** Streams a local file to `key` (for outputs too large to hold in memory). */
  putFile(key: string, path: string, opts?: PutOptions): Promise<ArtifactRef>;
  /** Reads a whole artifact. */
  get(uri: string): Promise<Buffer>;
  /** Opens an artifact as a stream. */
  open(uri: string): Promise<Readable>;
  /** True when the object exists and (if given) has the expected size. */
  exists(uri: string, bytes?: number): Promise<boolean>;
  /** Keys (relative to the root) that start with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

const sha256Hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

function countLines(buf: Uint8Array): number {
  let n = 0;
  for (const c of buf) if (c === 10) n++;
  return n;
}

async function hashFile(path: string): Promise<{ sha256: string; bytes: number; lines: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  let lines = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h.update(chunk);
    bytes += chunk.length;
    lines += countLines(chunk);
  }
  return { sha256: h.digest('hex'), bytes, lines };
}

function makeRef(uri: string, sha256: string, bytes: number, lines: number, opts: PutOptions = {}): ArtifactRef {
  return {
    uri,
    sha256,
    bytes,
    records: opts.records === undefined ? lines : opts.records,
    schemaVersion: opts.schemaVersion ?? 1,
    ...(opts.producer ? { producer: opts.producer } : {}),
  };
}

/** Artifacts on local disk under one directory. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  /** Absolute directory holding the artifacts (leftover sweeps walk it: activities/store/leftovers.ts). */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.root = pathToFileURL(this.dir).href;
  }

  uriFor(key: string): string {
    return pathToFileURL(join(this.dir, checkStoreKey(key))).href;
  }

  private pathOf(uri: string): string {
    if (!uri.startsWith('file://')) throw new Error(`not a file:// URI: ${uri}`);
    return fileURLToPath(uri);
  }

  async put(key: string, data: string | Uint8Array, opts?: PutOptions): Promise<ArtifactRef> {
    // Text may quote a server's answer: registered secrets never reach an artifact (../secrets.ts).
    const buf = typeof data === 'string' ? Buffer.from(redact(data), 'utf8') : data;
    const target = join(this.dir, checkStoreKey(key));
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, buf);
    await rename(tmp, target);
    return makeRef(this.uriFor(key), sha256Hex(buf), buf.length, countLines(buf), opts);
  }

  async putFile(key: string, path: string, opts?: PutOptions): Promise<ArtifactRef> {
    const target = join(this.dir, checkStoreKey(key));
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(createReadStream(path), createWriteStream(tmp));
      const { sha256, bytes, lines } = await hashFile(tmp);
      await rename(tmp, target);
      return makeRef(this.uriFor(key), sha256, bytes, lines, opts);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(uri: string): Promise<Buffer> {
    return readFile(this.pathOf(uri));
  }

  async open(uri: string): Promise<Readable> {
    const path = this.pathOf(uri);
    await stat(path); // fail early with ENOENT rather than on first read
    return createReadStream(path);
  }

  async exists(uri: string, bytes?: number): Promise<boolean> {
    try {
      const s = await stat(this.pathOf(uri));
      return s.isFile() && (bytes === undefined || s.size === bytes);
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkStoreKey(prefix, { listing: true });
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.dir, rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(child);
        else if (!e.name.includes('.tmp-') && child.startsWith(prefix)) out.push(child);
      }
    };
    // Walk from the deepest directory fully contained in the prefix.
    const slash = prefix.lastIndexOf('/');
    await walk(slash >= 0 ? prefix.slice(0, slash) : '');
    return out.sort();
  }
}

/** Credentials and endpoint for S3, read from the environment variables a spec names. */
export interface S3Settings {
  endpoint?: string;
  /** Endpoint that presigned URLs name (the compute nodes' address of the server); else `endpoint`. */
  publicEndpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

/** Reads S3 settings from the environment variables named in the store config. */
export function s3SettingsFromEnv(cfg: StoreConfig['s3'], env: NodeJS.ProcessEnv = process.env): S3Settings {
  const endpoint = env[cfg.endpoint_env];
  const publicEndpoint = env[cfg.public_endpoint_env];
  const accessKeyId = readSecret(env, cfg.access_key_env);
  const secretAccessKey = readSecret(env, cfg.secret_key_env);
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(publicEndpoint ? { publicEndpoint } : {}),
    region: cfg.region,
    ...(accessKeyId ? { accessKeyId } : {}),
    ...(secretAccessKey ? { secretAccessKey } : {}),
    forcePathStyle: cfg.force_path_style,
  };
}

/** Artifacts in an S3 bucket (AWS or any S3-compatible server, path-style for self-hosted ones). */
export class S3ArtifactStore implements ArtifactStore {
  readonly root: string;
  /** Bucket, key prefix (no trailing slash) and client: leftover sweeps and verification use them too. */
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;

  constructor(
    uri: string,
    private readonly settings: S3Settings
  ) {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    if (!m) throw new Error(`not an s3:// URI: ${uri}`);
    this.bucket = m[1]!;
    this.prefix = (m[2] ?? '').replace(/\/+$/, '');
    this.root = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    const config: S3ClientConfig = { region: settings.region, forcePathStyle: settings.forcePathStyle };
    if (settings.endpoint) config.endpoint = settings.endpoint;
    if (settings.accessKeyId && settings.secretAccessKey) {
      config.credentials = { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey };
    }
    this.client = new S3Client(config);
  }

  private keyOf(key: string): string {
    checkStoreKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  uriFor(key: string): string {
    return `s3://${this.bucket}/${this.keyOf(key)}`;
  }

  private parse(uri: string): { bucket: string; key: string } {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!m) throw new Error(`not an s3:// object URI: ${uri}`);
    return { bucket: m[1]!, key: m[2]! };
  }

  /**
   * A URL that GETs the object at `uri` without credentials for `expiresInS` seconds (at most 7
   * days): for a process that must not hold the store's keys (a Slurm job staging its shards).
   */
  async presignGet(uri: string, expiresInS: number): Promise<string> {
    const { bucket, key } = this.parse(uri);
    const endpoint = this.settings.publicEndpoint ?? this.settings.endpoint;
    return presignGetUrl(
      {
        ...(endpoint ? { endpoint } : {}),
        region: this.settings.region,
        forcePathStyle: this.settings.forcePathStyle,
        credentials: () => this.client.config.credentials(),
      },
      bucket,
      key,
      expiresInS
    );
  }

  /** Creates the bucket if it does not exist (self-hosted servers start empty). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  private async upload(key: string, body: Uint8Array | Readable): Promise<void> {
    // lib-storage uses a single PUT for small bodies and multipart for large ones; a failed
    // multipart upload is aborted, so the object is either complete or absent.
    const up = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.keyOf(key), Body: body },
      leavePartsOnError: false,
    });
    await up.done();
  }

  async put(key: string, data: string | Uint8Array, opts?: PutOptions): Promise<ArtifactRef> {
    // Text may quote a server's answer: registered secrets never reach an artifact (../secrets.ts).
    const buf = typeof data === 'string' ? Buffer.from(redact(data), 'utf8') : data;
    await this.upload(key, buf);
    return makeRef(this.uriFor(key), sha256Hex(buf), buf.length, countLines(buf), opts);
  }

  async putFile(key: string, path: string, opts?: PutOptions): Promise<ArtifactRef> {
    const { sha256, bytes, lines } = await hashFile(path);
    await this.upload(key, createReadStream(path));
    return makeRef(this.uriFor(key), sha256, bytes, lines, opts);
  }

  async get(uri: string): Promise<Buffer> {
    const s = await this.open(uri);
    const chunks: Buffer[] = [];
    for await (const c of s as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async open(uri: string): Promise<Readable> {
    const { bucket, key } = this.parse(uri);
    const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return r.Body as Readable;
  }

  async exists(uri: string, bytes?: number): Promise<boolean> {
    const { bucket, key } = this.parse(uri);
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return bytes === undefined || h.ContentLength === bytes;
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkStoreKey(prefix, { listing: true });
    const out: string[] = [];
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token })
      );
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(base.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }
}

/** Default local root: `$BOTTEGA_HOME/artifacts`, BOTTEGA_HOME defaulting to `./.bottega`. */
export function defaultStoreUri(env: NodeJS.ProcessEnv = process.env): string {
  const home = resolve(env.BOTTEGA_HOME ?? '.bottega');
  return pathToFileURL(join(home, 'artifacts')).href;
}

/** Opens the store a spec names (or the worker's default), reading S3 credentials from the env. */
export function openStore(cfg: StoreConfig, env: NodeJS.ProcessEnv = process.env): ArtifactStore {
  const uri = cfg.uri ?? defaultStoreUri(env);
  if (uri.startsWith('s3://')) return new S3ArtifactStore(uri, s3SettingsFromEnv(cfg.s3, env));
  return new LocalArtifactStore(fileURLToPath(uri));
}
