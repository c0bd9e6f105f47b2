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
 *
 * Other untagged (dangling) images that carry a `bottega.*` label are kind `dangling`: an image whose
 * tag a rebuild moved to a new image (the same tag built twice), or a failed build of an image
 * without the tracking label (setup-agent probes). They are pruned with the failed-build leftovers.
 */
import type Docker from 'dockerode';
import { BUILDING_LABEL, FROM_LABEL } from './build';

export type BottegaImageKind = 'base' | 'env' | 'instance' | 'failed' | 'dangling';

/** Untagged leftovers: removed first, and all of them (old enough) by `bottega envs prune`. */
export const isLeftover = (i: Pick<BottegaImage, 'kind'>): boolean => i.kind === 'failed' || i.kind === 'dangling';

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
  /** For `dangling`: its `bottega.*` labels (what it was built as). */
  labels?: Record<string, string>;
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

/** The untagged image `id` as a `failed` or `dangling` leftover, or null when it is not bottega's. */
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
    if (!parent) {
      // Not a failed build's: still bottega's when bottega labelled it (e.g. superseded by a rebuild).
      const ours = Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith('bottega.')));
      if (Object.keys(ours).length === 0) return null;
      return {
        tag: info.Id,
        id: info.Id,
        kind: 'dangling',
        sizeBytes: info.Size,
        parent: ours['bottega.base'] ?? ours['bottega.env'] ?? null,
        lastUsed: new Date(info.Created),
        labels: ours,
      };
    }
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
  /** Leftovers (`failed`, `dangling`) younger than this are kept (default {@link FAILED_MIN_AGE_MS}). */
  failedMinAgeMs?: number;
  /** Remove every leftover (`failed`, `dangling`; old enough), even within the budget (`bottega envs prune`). */
  removeFailed?: boolean;
}

export interface PruneResult {
  removed: BottegaImage[];
  /** Accounted bytes before and after. */
  beforeBytes: number;
  afterBytes: number;
}

/**
 * Removes leftovers (failed builds, dangling bottega images) first, then least recently used env
 * and instance images, until the accounted total fits `budgetBytes`. Never removes a base image, an
 * image in `inUse`, an image a container (running or not) was created from, a leftover younger than
 * `failedMinAgeMs`, or an env image that still has instance images on top (removing its tag would
 * free nothing).
 */
export async function pruneImages(docker: Docker, opts: PruneOptions): Promise<PruneResult> {
  const listed = await listBottegaImages(docker);
  const images = [...listed.filter(isLeftover), ...listed.filter((i) => !isLeftover(i))];
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
      if (total <= opts.budgetBytes && !(opts.removeFailed && isLeftover(img))) break;
      if (gone.has(img.tag) || img.kind === 'base') continue;
      if (protectedRefs.has(img.tag) || protectedRefs.has(img.id)) continue;
      if (isLeftover(img) && now - img.lastUsed.getTime() < minAge) continue;
      if (img.kind === 'env' && images.some((i) => i.parent === img.tag && !gone.has(i.tag))) continue;
      if (!opts.dryRun) {
        try {
          await docker.getImage(img.tag).remove();
        } catch (err) {
          // A leftover another build has since built upon (or removed) is skipped, not fatal.
          if (!isLeftover(img)) throw err;
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
