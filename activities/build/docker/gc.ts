/**
 * Disk budget for bottega images: list them with sizes and last use, and prune the least recently
 * used env/instance images until the total fits a budget.
 *
 * Last use is the image's `Metadata.LastTagTime`, which {@link touchImage} bumps by re-tagging (image
 * labels are immutable, so a `bottega.last_used` label cannot be updated); an image never touched
 * falls back to its creation time.
 */
import type Docker from 'dockerode';

export type BottegaImageKind = 'base' | 'env' | 'instance';

export interface BottegaImage {
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
  /** The parent bottega image's tag (label `bottega.base` / `bottega.env`). */
  parent: string | null;
  lastUsed: Date;
}

function kindOf(tag: string): BottegaImageKind | null {
  if (tag.startsWith('bottega/base-')) return 'base';
  if (tag.startsWith('bottega/env.')) return 'env';
  if (tag.startsWith('bottega/inst.')) return 'instance';
  return null;
}

/** Every tagged bottega image, oldest use first. */
export async function listBottegaImages(docker: Docker): Promise<BottegaImage[]> {
  const summaries = await docker.listImages();
  const raw: Omit<BottegaImage, 'ownBytes'>[] = [];
  for (const s of summaries) {
    for (const tag of s.RepoTags ?? []) {
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
}

export interface PruneResult {
  removed: BottegaImage[];
  /** Accounted bytes before and after. */
  beforeBytes: number;
  afterBytes: number;
}

/**
 * Removes least recently used env and instance images until the accounted total fits
 * `budgetBytes`. Never removes a base image, an image in `inUse`, an image a container (running or
 * not) was created from, or an env image that still has instance images on top (removing its tag
 * would free nothing).
 */
export async function pruneImages(docker: Docker, opts: PruneOptions): Promise<PruneResult> {
  const images = await listBottegaImages(docker);
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
  while (total > opts.budgetBytes && progress) {
    progress = false;
    for (const img of images) {
      if (total <= opts.budgetBytes) break;
      if (gone.has(img.tag) || img.kind === 'base') continue;
      if (protectedRefs.has(img.tag) || protectedRefs.has(img.id)) continue;
      if (img.kind === 'env' && images.some((i) => i.parent === img.tag && !gone.has(i.tag))) continue;
      if (!opts.dryRun) await docker.getImage(img.tag).remove();
      gone.add(img.tag);
      removed.push(img);
      total -= img.ownBytes;
      progress = true;
    }
  }
  return { removed, beforeBytes, afterBytes: total };
}
