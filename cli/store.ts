import { StoreConfig, describeIssues } from '../contracts';
import { openStore } from '../activities/store/artifact-store';
import { sweepLeftovers, type StoreLeftover } from '../activities/store/leftovers';

/** Flags of `bottega store gc`. */
export interface StoreGcFlags {
  /** Store URI (`file:///abs/dir` or `s3://bucket/prefix`); default the spec's, else `$BOTTEGA_HOME/artifacts`. */
  uri?: string;
  /** Only under this store key prefix (e.g. `experiments/exp-demo/`). */
  prefix?: string;
  /** Only leftovers last written longer ago than this (`30m`, `6h`, `2d`, `0` for all). */
  olderThan: string;
  /** Delete; without it nothing is removed (dry run). */
  yes?: boolean;
  json?: boolean;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m` → 1,800,000; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** "3 tmp files (960.0 MB), 1 incomplete upload (12.6 MB)". */
function counts(found: StoreLeftover[]): string {
  const parts: string[] = [];
  for (const [kind, one, many] of [
    ['tmp_file', 'tmp file', 'tmp files'],
    ['incomplete_upload', 'incomplete upload', 'incomplete uploads'],
  ] as const) {
    const some = found.filter((l) => l.kind === kind);
    if (some.length)
      parts.push(`${some.length} ${some.length === 1 ? one : many} (${mb(some.reduce((a, l) => a + l.bytes, 0))})`);
  }
  return parts.join(', ') || 'nothing';
}

/**
 * `bottega store gc`: finds what writers killed mid-write left in the artifact store (local
 * `*.tmp-*` files, S3 incomplete multipart uploads and temp-named objects) that is older than
 * `--older-than`, lists each with its size, and removes them with `--yes`. Returns the exit code:
 * 2 for bad flags, 1 when something could not be removed.
 */
export async function storeGcCommand(
  flags: StoreGcFlags,
  store: StoreConfig | undefined,
  io: { out: (s: string) => void; err: (s: string) => void; env?: NodeJS.ProcessEnv }
): Promise<number> {
  const olderThanMs = parseDuration(flags.olderThan);
  if (olderThanMs === null) {
    io.err(
      `--older-than: expected a duration like 30m, 6h or 2d, or 0 for all (got ${JSON.stringify(flags.olderThan)})`
    );
    return 2;
  }
  let cfg = store ?? StoreConfig.parse({});
  if (flags.uri !== undefined) {
    const r = StoreConfig.safeParse({ ...cfg, uri: flags.uri });
    if (!r.success) {
      for (const p of describeIssues(r.error)) io.err(`--uri: ${p.message} (got ${JSON.stringify(flags.uri)})`);
      return 2;
    }
    cfg = r.data;
  }
  const s = openStore(cfg, io.env ?? process.env);
  const cutoff = new Date(Date.now() - olderThanMs);
  const prefix = flags.prefix ?? '';
  const report = await sweepLeftovers(s, prefix, cutoff, { dryRun: !flags.yes });
  if (flags.json) {
    io.out(JSON.stringify({ store: s.root, prefix, cutoff: cutoff.toISOString(), dryRun: !flags.yes, ...report }));
  } else {
    io.out(`store ${s.root}${prefix ? ` (prefix ${prefix})` : ''}: leftovers written before ${cutoff.toISOString()}`);
    for (const l of report.found)
      io.out(`  ${l.kind.padEnd(17)} ${mb(l.bytes).padStart(10)}  ${l.modified.toISOString()}  ${l.key}`);
    if (!flags.yes)
      io.out(
        report.found.length
          ? `would remove ${counts(report.found)}: run again with --yes to delete`
          : 'nothing to remove'
      );
    else {
      const failedKeys = new Set(report.failed.map((f) => f.key));
      const gone = report.found.filter((l) => !failedKeys.has(l.key));
      io.out(report.found.length ? `removed ${counts(gone)}, freed ${mb(report.bytes)}` : 'nothing to remove');
    }
  }
  for (const f of report.failed) io.err(`could not remove ${f.key}: ${f.error}`);
  return report.failed.length ? 1 : 0;
}
