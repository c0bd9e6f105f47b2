/**
 * Disk budget for bottega images: list them with sizes and last use, and prune the least recently
 * used env/instance images until the total fits a budget.
 *
 * Last use is the image's `Metadata.LastTagTime`, which {@link touchImage} bumps by re-tagging (image
 * labels are immutable, so a `bottega.last_used` label cannot be updated); an image never touched
 * falls back to its creation time.
 *
 * Failed builds leave untagged images behind (the steps that succeeded, committed by the builder):
 * kind `failed`. They are recognised by the tracking label every bottega build puts right after
 * FROM (build.ts `trackingLabel`: the tag the build was for), or, for builds older than that label,
 * by descending from a bottega image. They are counted in the budget and pruned before anything else.
 */
import type Docker from 'dockerode';
import { BUILDING_LABEL, FROM_LABEL } from './build';

export type BottegaImageKind = 'base' | 'env' | 'instance' | 'failed';

export interface BottegaImage {
  /** The tag; for a `failed` (untagged) image, its id. */
  tag: string;
  id: string;
  kind: BottegaImageKind;
  /** Full image size (shared layers included). */
  sizeBytes: number;
  /**
   * Bytes this image adds on top of its parent bottega image (env over base, instance over env);
   * its full size when the parent is unknown. Summing these counts shared layers once.
   */
  ownBytes: number;
  /** The parent bottega image's tag (label `bottega.base` / `bottega.env`; for `failed`, what it was built FROM). */
  parent: string | null;
  lastUsed: Date;
  /** For `failed`: the tag the build was for (null for a build older than the tracking label). */
  building?: string | null;
}

/** Failed-build leftovers younger than this are left alone by default: a build may still be using them. */
export const FAILED_MIN_AGE_MS = 10 * 60_000;

function kindOf(tag: string): BottegaImageKind | null {
  if (tag.startsWith('bottega/base-')) return 'base';
  if (tag.startsWith('bottega/env.')) return 'env';
  if (tag.startsWith('bottega/inst.')) return 'instance';
  return null;
}

/** Every bottega image (tagged ones, and untagged leftovers of failed builds), oldest use first. */
export async function listBottegaImages(docker: Docker): Promise<BottegaImage[]> {
  const summaries = await docker.listImages();
  const raw: Omit<BottegaImage, 'ownBytes'>[] = [];
  for (const s of summaries) {
    const tags = (s.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    if (tags.length === 0) {
      const failed = await failedLeftover(docker, s.Id);
      if (failed) raw.push(failed);
      continue;
    }
    for (const tag of tags) {
      const kind = kindOf(tag);
      if (!kind) continue;
      const info = await docker.getImage(tag).inspect();
      const labels = info.Config?.Labels ?? {};
      const parent = kind === 'env' ? labels['bottega.base'] : kind === 'instance' ? labels['bottega.env'] : undefined;
      const tagged = (info as { Metadata?: { LastTagTime?: string } }).Metadata?.LastTagTime;
      const lastUsed = [tagged, info.Created]
        .map((t) => (t ? new Date(t) : new Date(0)))
        .filter((d) => !Number.isNaN(d.getTime()) && d.getTime() > 0)
        .reduce((a, b) => (a > b ? a : b), new Date(0));
      raw.push({ tag, id: info.Id, kind, sizeBytes: info.Size, parent: parent ?? null, lastUsed });
    }
  }
  const sizeOf = new Map(raw.map((i) => [i.tag, i.sizeBytes]));
  return raw
    .map((i) => {
      const parentSize = i.parent ? sizeOf.get(i.parent) : undefined;
      return { ...i, ownBytes: parentSize !== undefined ? Math.max(0, i.sizeBytes - parentSize) : i.sizeBytes };
    })
    .sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
}

/** Most parent links followed to tell whether an unlabelled untagged image descends from a bottega image. */
const MAX_PARENT_HOPS = 64;

/** The untagged image `id` as a `failed` leftover, or null when it is not bottega's. */
async function failedLeftover(docker: Docker, id: string): Promise<Omit<BottegaImage, 'ownBytes'> | null> {
  const info = await docker.getImage(id).inspect();
  const labels = info.Config?.Labels ?? {};
  const building: string | null = labels[BUILDING_LABEL] ?? null;
  let parent: string | null = labels[FROM_LABEL] ?? null;
  if (!building) {
    // Older builds: follow the (classic builder's) parent links up to a tagged bottega image.
    let cur = info.Parent;
    for (let hop = 0; cur && hop < MAX_PARENT_HOPS && !parent; hop++) {
      const p = await docker
        .getImage(cur)
        .inspect()
        .catch(() => null);
      if (!p) break;
      parent = (p.RepoTags ?? []).find((t) => kindOf(t) !== null) ?? null;
      cur = p.Parent;
    }
    if (!parent) return null;
  }
  return {
    tag: info.Id,
    id: info.Id,
    kind: 'failed',
    sizeBytes: info.Size,
    parent,
    lastUsed: new Date(info.Created),
    building,
  };
}

/** Marks `tag` as used now (re-tagging updates `Metadata.LastTagTime`). */
export async function touchImage(docker: Docker, tag: string): Promise<void> {
  const colon = tag.lastIndexOf(':');
  const repo = colon > tag.indexOf('/') ? tag.slice(0, colon) : tag;
  const version = colon > tag.indexOf('/') ? tag.slice(colon + 1) : 'latest';
  await docker.getImage(tag).tag({ repo, tag: version });
}

export interface PruneOptions {
  /** Keep the sum of {@link BottegaImage.ownBytes} over all bottega images at or below this. */
  budgetBytes: number;
  /** Tags or ids that must be kept (e.g. images of queued work). */
  inUse?: string[];
  /** Only report what would be removed. */
  dryRun?: boolean;
  /** Failed-build leftovers younger than this are kept (default {@link FAILED_MIN_AGE_MS}). */
  failedMinAgeMs?: number;
  /** Remove every failed-build leftover (old enough), even within the budget (`bottega envs prune`). */
  removeFailed?: boolean;
}

export interface PruneResult {
  removed: BottegaImage[];
  /** Accounted bytes before and after. */
  beforeBytes: number;
  afterBytes: number;
}

/**
 * Removes failed-build leftovers first, then least recently used env and instance images, until the
 * accounted total fits `budgetBytes`. Never removes a base image, an image in `inUse`, an image a
 * container (running or not) was created from, a leftover younger than `failedMinAgeMs`, or an env
 * image that still has instance images on top (removing its tag would free nothing).
 */
export async function pruneImages(docker: Docker, opts: PruneOptions): Promise<PruneResult> {
  const listed = await listBottegaImages(docker);
  const images = [...listed.filter((i) => i.kind === 'failed'), ...listed.filter((i) => i.kind !== 'failed')];
  const minAge = opts.failedMinAgeMs ?? FAILED_MIN_AGE_MS;
  const now = Date.now();
  const protectedRefs = new Set(opts.inUse ?? []);
  for (const c of await docker.listContainers({ all: true })) {
    protectedRefs.add(c.Image);
    protectedRefs.add(c.ImageID);
  }
  let total = images.reduce((n, i) => n + i.ownBytes, 0);
  const beforeBytes = total;
  const removed: BottegaImage[] = [];
  const gone = new Set<string>();
  let progress = true;
  while ((total > opts.budgetBytes || opts.removeFailed) && progress) {
    progress = false;
    for (const img of images) {
      if (total <= opts.budgetBytes && !(opts.removeFailed && img.kind === 'failed')) break;
      if (gone.has(img.tag) || img.kind === 'base') continue;
      if (protectedRefs.has(img.tag) || protectedRefs.has(img.id)) continue;
      if (img.kind === 'failed' && now - img.lastUsed.getTime() < minAge) continue;
      if (img.kind === 'env' && images.some((i) => i.parent === img.tag && !gone.has(i.tag))) continue;
      if (!opts.dryRun) {
        try {
          await docker.getImage(img.tag).remove();
        } catch (err) {
          // A leftover another build has since built upon (or removed) is skipped, not fatal.
          if (img.kind !== 'failed') throw err;
          gone.add(img.tag);
          continue;
        }
      }
      gone.add(img.tag);
      removed.push(img);
      total -= img.ownBytes;
      progress = true;
    }
  }
  return { removed, beforeBytes, afterBytes: total };
}
