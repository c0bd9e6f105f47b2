/**
 * Crash leftovers in the artifact store: what a writer killed mid-write leaves behind.
 *
 * - Local store: `<key>.tmp-<12 hex>` files (artifact-store.ts writes a temp file and renames it;
 *   a mix shard's temp copy is up to `shard_tokens × 5` bytes, 320 MiB with the default sizes).
 * - S3 store: incomplete multipart uploads (lib-storage aborts them on errors, but not when the
 *   process is killed): their parts take space and are listed by no ListObjects. Objects named like
 *   local temp files (a local store copied to S3) are swept too.
 *
 * A leftover counts as stale when it was last written (or, for an upload, started) before a
 * cutoff: the start of the stage run that sweeps (with a grace period), or `bottega store gc`'s
 * `--older-than`. A live writer keeps its temp file fresh, so it is never swept from under it.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import { LocalArtifactStore, S3ArtifactStore, type ArtifactStore } from './artifact-store';

/** Name suffix of a temp file the store writes before renaming it into place. */
export const TMP_SUFFIX = /\.tmp-[0-9a-f]{12}$/;

/** One crash leftover. */
export interface StoreLeftover {
  kind: 'tmp_file' | 'incomplete_upload';
  /** Store key (relative to the root). */
  key: string;
  bytes: number;
  /** Last write (a file, an object) or start (an upload). */
  modified: Date;
  /** S3 only: the object key in the bucket and, for an upload, its id. */
  s3Key?: string;
  uploadId?: string;
}

/** What a sweep found and removed. */
export interface SweepReport {
  found: StoreLeftover[];
  /** Leftovers removed (none on a dry run). */
  removed: number;
  /** Bytes freed (or, on a dry run, that would be). */
  bytes: number;
  /** Leftovers that could not be removed, with why. */
  failed: { key: string; error: string }[];
}

/** Local temp files under `prefix` last modified before `cutoff`. */
async function localLeftovers(store: LocalArtifactStore, prefix: string, cutoff: Date): Promise<StoreLeftover[]> {
  const out: StoreLeftover[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(store.dir, rel), { withFileTypes: true });
    } catch {
      return; // gone meanwhile, or never created
    }
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (child.startsWith(prefix) || prefix.startsWith(`${child}/`)) await walk(child);
      } else if (e.isFile() && TMP_SUFFIX.test(e.name) && child.startsWith(prefix)) {
        const s = await lstat(join(store.dir, child)).catch(() => null);
        if (s && s.mtimeMs < cutoff.getTime())
          out.push({ kind: 'tmp_file', key: child, bytes: s.size, modified: s.mtime });
      }
    }
  };
  const slash = prefix.lastIndexOf('/');
  await walk(slash >= 0 ? prefix.slice(0, slash) : '');
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** S3 temp-named objects and incomplete multipart uploads under `prefix` older than `cutoff`. */
async function s3Leftovers(store: S3ArtifactStore, prefix: string, cutoff: Date): Promise<StoreLeftover[]> {
  const base = store.prefix ? `${store.prefix}/` : '';
  const out: StoreLeftover[] = [];
  let token: string | undefined;
  do {
    const r = await store.client.send(
      new ListObjectsV2Command({ Bucket: store.bucket, Prefix: base + prefix, ContinuationToken: token })
    );
    for (const o of r.Contents ?? []) {
      if (!o.Key || !TMP_SUFFIX.test(o.Key) || !o.LastModified || o.LastModified >= cutoff) continue;
      out.push({
        kind: 'tmp_file',
        key: o.Key.slice(base.length),
        s3Key: o.Key,
        bytes: o.Size ?? 0,
        modified: o.LastModified,
      });
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const r = await store.client.send(
      new ListMultipartUploadsCommand({
        Bucket: store.bucket,
        Prefix: base + prefix,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      })
    );
    for (const u of r.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= cutoff) continue;
      out.push({
        kind: 'incomplete_upload',
        key: u.Key.slice(base.length),
        s3Key: u.Key,
        uploadId: u.UploadId,
        bytes: await uploadedBytes(store, u.Key, u.UploadId),
        modified: u.Initiated,
      });
    }
    keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
    uploadIdMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Bytes held by the parts of an incomplete upload. */
async function uploadedBytes(store: S3ArtifactStore, key: string, uploadId: string): Promise<number> {
  let bytes = 0;
  let marker: string | undefined;
  do {
    const r = await store.client.send(
      new ListPartsCommand({ Bucket: store.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })
    );
    for (const p of r.Parts ?? []) bytes += p.Size ?? 0;
    marker = r.IsTruncated ? r.NextPartNumberMarker : undefined;
  } while (marker);
  return bytes;
}

/** Crash leftovers under `prefix` (a store key prefix; '' for the whole store) older than `cutoff`. */
export async function findLeftovers(store: ArtifactStore, prefix: string, cutoff: Date): Promise<StoreLeftover[]> {
  if (store instanceof LocalArtifactStore) return localLeftovers(store, prefix, cutoff);
  if (store instanceof S3ArtifactStore) return s3Leftovers(store, prefix, cutoff);
  return [];
}

async function removeOne(store: ArtifactStore, l: StoreLeftover): Promise<void> {
  if (store instanceof LocalArtifactStore) await rm(join(store.dir, l.key), { force: true });
  else if (store instanceof S3ArtifactStore && l.kind === 'incomplete_upload')
    await store.client.send(
      new AbortMultipartUploadCommand({ Bucket: store.bucket, Key: l.s3Key, UploadId: l.uploadId })
    );
  else if (store instanceof S3ArtifactStore)
    await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: l.s3Key }));
}

/**
 * Finds the crash leftovers under `prefix` older than `cutoff` and, unless `dryRun`, removes them.
 * A leftover that cannot be removed is reported in `failed`, not thrown: a sweep never fails the
 * work that triggered it.
 */
export async function sweepLeftovers(
  store: ArtifactStore,
  prefix: string,
  cutoff: Date,
  opts: { dryRun?: boolean } = {}
): Promise<SweepReport> {
  const found = await findLeftovers(store, prefix, cutoff);
  const report: SweepReport = { found, removed: 0, bytes: 0, failed: [] };
  for (const l of found) {
    if (opts.dryRun) {
      report.bytes += l.bytes;
      continue;
    }
    try {
      await removeOne(store, l);
      report.removed++;
      report.bytes += l.bytes;
    } catch (e) {
      report.failed.push({ key: l.key, error: (e as Error).message });
    }
  }
  return report;
}
