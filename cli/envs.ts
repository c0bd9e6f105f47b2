import Docker from 'dockerode';
import { listBottegaImages, pruneImages, type BottegaImage } from '../activities/build/docker';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function table(images: BottegaImage[]): string {
  const rows = images.map(
    (i) => `${i.kind.padEnd(9)} ${mb(i.ownBytes).padStart(10)}  ${i.lastUsed.toISOString()}  ${i.tag}`
  );
  return [`${'kind'.padEnd(9)} ${'own size'.padStart(10)}  ${'last used'.padEnd(24)}  tag`, ...rows].join('\n');
}

/** `bottega envs ls`: the images bottega holds, with the bytes each adds over its parent. */
export async function envsList(out: (s: string) => void): Promise<void> {
  const images = await listBottegaImages(new Docker());
  out(table(images));
  const total = images.reduce((a, i) => a + i.ownBytes, 0);
  out(`${images.length} images, ${mb(total)} held (shared layers counted once)`);
}

/**
 * `bottega envs prune`: removes least-recently-used environment and instance images until the
 * held bytes fit the budget. Never removes a base image, an image any container uses, or an
 * environment that instances still build on.
 */
export async function envsPrune(opts: { budgetGb: number; dryRun: boolean }, out: (s: string) => void): Promise<void> {
  const r = await pruneImages(new Docker(), { budgetBytes: opts.budgetGb * 1e9, dryRun: opts.dryRun });
  out(r.removed.length ? table(r.removed) : 'nothing to remove');
  out(
    `${opts.dryRun ? 'would free' : 'freed'} ${mb(r.beforeBytes - r.afterBytes)}: ${mb(r.beforeBytes)} → ${mb(r.afterBytes)} (budget ${opts.budgetGb} GB)`
  );
}
