import Docker from 'dockerode';
import { listBottegaImages, pruneImages, type BottegaImage } from '../activities/build/docker';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** The tag, or for an untagged leftover its short id and what it was built as. */
function name(i: BottegaImage): string {
  if (i.kind !== 'failed' && i.kind !== 'dangling') return i.tag;
  const id = i.id.replace(/^sha256:/, '').slice(0, 12);
  if (i.kind === 'dangling') {
    const labels = Object.entries(i.labels ?? {})
      .filter(([k]) => k === 'bottega.kind' || k === 'bottega.repo' || k === 'bottega.building')
      .map(([k, v]) => `${k}=${v}`);
    return `<none> ${id} (dangling bottega image${labels.length ? `: ${labels.join(' ')}` : ''})`;
  }
  return `<none> ${id} (failed build ${i.building ? `of ${i.building}` : `on ${i.parent ?? '?'}`})`;
}

/** "2 failed-build leftovers (1.2 MB), 1 dangling (0.4 MB)" for the leftovers among `images`. */
function leftoverCounts(images: BottegaImage[]): string | null {
  const parts: string[] = [];
  for (const [kind, what] of [
    ['failed', 'failed-build leftovers'],
    ['dangling', 'dangling bottega images'],
  ] as const) {
    const some = images.filter((i) => i.kind === kind);
    if (some.length) parts.push(`${some.length} ${what} (${mb(some.reduce((a, i) => a + i.ownBytes, 0))})`);
  }
  return parts.length ? parts.join(', ') : null;
}

function table(images: BottegaImage[]): string {
  const rows = images.map(
    (i) => `${i.kind.padEnd(9)} ${mb(i.ownBytes).padStart(10)}  ${i.lastUsed.toISOString()}  ${name(i)}`
  );
  return [`${'kind'.padEnd(9)} ${'own size'.padStart(10)}  ${'last used'.padEnd(24)}  tag`, ...rows].join('\n');
}

/** `bottega envs ls`: the images bottega holds, with the bytes each adds over its parent. */
export async function envsList(out: (s: string) => void, docker: Docker = new Docker()): Promise<void> {
  const images = await listBottegaImages(docker);
  out(table(images));
  const total = images.reduce((a, i) => a + i.ownBytes, 0);
  out(`${images.length} images, ${mb(total)} held (shared layers counted once)`);
  const failed = images.filter((i) => i.kind === 'failed');
  if (failed.length > 0) {
    const bytes = failed.reduce((a, i) => a + i.ownBytes, 0);
    out(`${failed.length} left by failed builds (${mb(bytes)}): \`bottega envs prune\` removes them first`);
  }
  const dangling = images.filter((i) => i.kind === 'dangling');
  if (dangling.length > 0) {
    const bytes = dangling.reduce((a, i) => a + i.ownBytes, 0);
    out(`${dangling.length} dangling bottega images (${mb(bytes)}): \`bottega envs prune\` removes them first`);
  }
}

/**
 * `bottega envs prune`: removes what failed builds left and dangling images bottega built (a tag
 * built twice leaves the older image untagged), then least-recently-used environment and
 * instance images, until the held bytes fit the budget. Never removes a base image, an image any
 * container uses, a failed build's leftover younger than ten minutes (a build may be using it), or
 * an environment that instances still build on.
 */
export async function envsPrune(
  opts: { budgetGb: number; dryRun: boolean; docker?: Docker; failedMinAgeMs?: number },
  out: (s: string) => void
): Promise<void> {
  const r = await pruneImages(opts.docker ?? new Docker(), {
    budgetBytes: opts.budgetGb * 1e9,
    dryRun: opts.dryRun,
    removeFailed: true,
    ...(opts.failedMinAgeMs !== undefined ? { failedMinAgeMs: opts.failedMinAgeMs } : {}),
  });
  out(r.removed.length ? table(r.removed) : 'nothing to remove');
  const leftovers = leftoverCounts(r.removed);
  if (leftovers) out(`${opts.dryRun ? 'would remove' : 'removed'} ${leftovers}`);
  out(
    `${opts.dryRun ? 'would free' : 'freed'} ${mb(r.beforeBytes - r.afterBytes)}: ${mb(r.beforeBytes)} → ${mb(r.afterBytes)} (budget ${opts.budgetGb} GB)`
  );
}
