/**
 * `npm run bench -- mix`, two parts:
 *
 * 1. **Near dedup** on a generated code-like corpus with planted exact and near duplicates
 *    (bench/mix-corpus.ts): bottega's MinHash (activities/mix/minhash.ts: signatures, LSH bands,
 *    candidates confirmed by estimated Jaccard ≥ threshold) against PyPI `rensa` (Rust) and
 *    `datasketch`, run by bench/mix_ref.py in the same bench run on the same documents with the
 *    same shingling rule (checked: both sides' shingles hash to the same sha256), num_perm, bands,
 *    rows and threshold. Throughput (docs/s, MB/s, MB per CPU second) and the pairs each finds.
 *    bottega runs twice, on its WebAssembly kernel and on the pure TypeScript path (identical
 *    signatures, so identical pairs; checked), and each is printed per core against rensa's step
 *    from prebuilt shingles.
 * 2. **Full pipeline** (dedup + decontamination + tokenize + pack, `runMixPipeline`) in a child
 *    process per input size (doubling), in a cgroup with a small memory limit when one can be
 *    created, so the input is several times larger than the page cache the run may use: MB/s and
 *    tokens/s per core, peak RSS.
 *
 * The Python packages are installed on first use into a venv under `$BOTTEGA_HOME/venvs/bench-mix`
 * (pip; `--python` picks another interpreter that already has them).
 *
 * Exit code: 0 ok, 1 a check failed (shingles differ, wasm and pure TS signatures differ, planted
 * recall below 90%), 2 bad flags, 3 the Python reference could not run.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_MINHASH_PARAMS,
  MinHasher,
  MinHashLsh,
  jaccardEstimate,
  lshThreshold,
  shingles,
  type MinHashEngine,
  type MinHashParams,
} from '../activities/mix/minhash';
import { baseDocuments, dedupCorpus, writeJsonlCorpus, type DedupCorpus } from './mix-corpus';
import { formatTable, num } from './table';
import { benchPython } from './venv';

const REF_PACKAGES = ['rensa==0.5.0', 'datasketch==2.0.0'];

interface RefTiming {
  wall_s: number;
  cpu_s: number;
  sketch_wall_s?: number;
}
interface RefResult {
  docs: number;
  shingles: number;
  shingle_sha256: string;
  shingle_time: RefTiming;
  versions: Record<string, string>;
  impls: Record<
    string,
    { timing: RefTiming; pairs?: [number, number][]; flagged?: number[]; eval_estimates?: number[]; runs: number }
  >;
  max_rss_kb: number;
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const rssMb = (): number => process.resourceUsage().maxRSS / 1024;

/** Our dedup result. */
interface OurRun {
  wall_s: number;
  cpu_s: number;
  sketch_s: number;
  pairs: Set<number>;
  flagged: Set<number>;
  sigs: Uint32Array;
  shingles: number;
}

/** Sketch + LSH + confirm over all documents, single thread; pairs keyed as a * n + b. */
function ourDedup(docs: string[], p: MinHashParams, threshold: number, engine: MinHashEngine): OurRun {
  const n = docs.length;
  const k = p.numPerm;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const h = new MinHasher(p, { engine });
  const lsh = new MinHashLsh(h, n);
  const sigs = new Uint32Array(n * k);
  const pairs = new Set<number>();
  const flagged = new Set<number>();
  let sketchMs = 0;
  let sh = 0;
  for (let i = 0; i < n; i++) {
    const sig = sigs.subarray(i * k, (i + 1) * k);
    const s0 = performance.now();
    sh += h.signatureInto(docs[i]!, sig);
    sketchMs += performance.now() - s0;
    const cands = lsh.queryInsert(sig);
    if (cands.length) flagged.add(i);
    for (const c of cands) {
      flagged.add(c);
      if (jaccardEstimate(sigs.subarray(c * k, (c + 1) * k), sig) >= threshold) pairs.add(c * n + i);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    wall_s: wall,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    sketch_s: sketchMs / 1000,
    pairs,
    flagged,
    sigs,
    shingles: sh,
  };
}

function shingleDigest(docs: string[], size: number): string {
  const h = createHash('sha256');
  for (const d of docs) {
    h.update(shingles(d, size).join('\n'));
    h.update('\0');
  }
  return h.digest('hex');
}

function trueJaccard(a: string, b: string, size: number): number {
  const A = new Set(shingles(a, size));
  const B = new Set(shingles(b, size));
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  const u = A.size + B.size - inter;
  return u === 0 ? 1 : inter / u;
}

/** A Python with rensa and datasketch: `--python`, else the bench venv (created on first use). */
export function ensureRefPython(explicit: string | undefined): { python: string; error?: string } {
  return benchPython(explicit, 'bench-mix', REF_PACKAGES, 'rensa, datasketch');
}

async function writeLines(path: string, lines: string[]): Promise<void> {
  const ws = createWriteStream(path, 'utf8');
  for (const t of lines)
    if (!ws.write(JSON.stringify(t) + '\n')) await new Promise<void>((r) => ws.once('drain', () => r()));
  await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
}

const pct = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`);

/** Part 1; returns the exit code. */
async function dedupPart(
  corpus: DedupCorpus,
  p: MinHashParams,
  threshold: number,
  python: string | undefined,
  impls: string,
  dir: string,
  repeat: number
): Promise<number> {
  const { docs, planted, bytes } = corpus;
  const n = docs.length;
  const mb = bytes / 1e6;

  // warm-up (JIT), then the timed runs, alternating engines so that both see the same machine
  // load; the fastest is kept (the Python side does the same for rensa)
  const engines = ['wasm', 'js'] as const;
  const best: Partial<Record<(typeof engines)[number], OurRun>> = {};
  for (const e of engines) ourDedup(docs.slice(0, 200), p, threshold, e);
  for (let r = 0; r < repeat; r++)
    for (const e of engines) {
      const run = ourDedup(docs, p, threshold, e);
      if (!best[e] || run.wall_s < best[e].wall_s) best[e] = run;
    }
  const ours = best.wasm!;
  const pure = best.js!;
  const ourRss = rssMb();
  log(
    `bottega minhash: wasm ${ours.wall_s.toFixed(2)} s, pure TS ${pure.wall_s.toFixed(2)} s, ${ours.pairs.size} pairs`
  );
  const samePure =
    Buffer.from(ours.sigs.buffer, ours.sigs.byteOffset, ours.sigs.byteLength).equals(
      Buffer.from(pure.sigs.buffer, pure.sigs.byteOffset, pure.sigs.byteLength)
    ) && ours.shingles === pure.shingles;

  // untimed checks
  const ourDigest = shingleDigest(docs, p.shingleSize);
  const nearPlanted = planted.filter((x) => x.kind === 'near');
  const exactPlanted = planted.filter((x) => x.kind === 'exact');
  const trueJ = nearPlanted.map((x) => trueJaccard(docs[x.a]!, docs[x.b]!, p.shingleSize));
  const k = p.numPerm;
  const sigOf = (i: number): Uint32Array => ours.sigs.subarray(i * k, (i + 1) * k);
  const ourEst = nearPlanted.map((x) => jaccardEstimate(sigOf(x.a), sigOf(x.b)));

  // the references
  const docsFile = join(dir, 'docs.jsonl');
  await writeLines(docsFile, docs);
  const evalFile = join(dir, 'eval.json');
  writeFileSync(evalFile, JSON.stringify(nearPlanted.map((x) => [x.a, x.b])));
  const outFile = join(dir, 'ref.json');
  const py = ensureRefPython(python);
  let ref: RefResult | undefined;
  let refError = py.error;
  if (!refError) {
    const script = fileURLToPath(new URL('./mix_ref.py', import.meta.url));
    log(`running ${py.python} ${script} (${impls}; one thread) ...`);
    const r = spawnSync(
      py.python,
      [
        script,
        '--docs',
        docsFile,
        '--out',
        outFile,
        '--eval-pairs',
        evalFile,
        '--impls',
        impls,
        '--shingle',
        String(p.shingleSize),
        '--num-perm',
        String(p.numPerm),
        '--bands',
        String(p.bands),
        '--rows',
        String(p.rows),
        '--seed',
        String(p.seed),
        '--threshold',
        String(threshold),
        '--repeat',
        String(repeat),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, RAYON_NUM_THREADS: '1', RAYON_RS_NUM_CPUS: '1', OMP_NUM_THREADS: '1' },
      }
    );
    if (r.error || r.status !== 0) refError = r.error ? r.error.message : `mix_ref.py exited with ${r.status}`;
    else ref = JSON.parse(readFileSync(outFile, 'utf8')) as RefResult;
  }

  const pairKey = (a: number, b: number): number => Math.min(a, b) * n + Math.max(a, b);
  const recall = (pairs: Set<number>, list: typeof planted): string =>
    pct(list.filter((x) => pairs.has(pairKey(x.a, x.b))).length, list.length);
  const mae = (est: number[]): string =>
    est.length ? num(est.reduce((a, e, i) => a + Math.abs(e - trueJ[i]!), 0) / est.length, 4) : '-';

  const header = [
    'near dedup (1 thread)',
    'time s',
    'docs/s',
    'MB/s',
    'MB/cpu-s',
    'pairs',
    'same as ours',
    'near recall',
    'exact recall',
    'est. MAE',
    'peak RSS MB',
  ];
  const rows: string[][] = [];
  rows.push([
    'bottega minhash, wasm (shingling included)',
    num(ours.wall_s, 2),
    num(n / ours.wall_s, 0),
    num(mb / ours.wall_s, 1),
    num(mb / ours.cpu_s, 1),
    String(ours.pairs.size),
    '-',
    recall(ours.pairs, nearPlanted),
    recall(ours.pairs, exactPlanted),
    mae(ourEst),
    num(ourRss, 0),
  ]);
  rows.push([
    'bottega minhash, pure TS (shingling incl.)',
    num(pure.wall_s, 2),
    num(n / pure.wall_s, 0),
    num(mb / pure.wall_s, 1),
    num(mb / pure.cpu_s, 1),
    String(pure.pairs.size),
    samePure ? 'identical' : 'DIFFERENT',
    recall(pure.pairs, nearPlanted),
    recall(pure.pairs, exactPlanted),
    mae(ourEst),
    '-',
  ]);
  if (ref) {
    for (const [name, r] of Object.entries(ref.impls)) {
      const t = r.timing;
      if (r.pairs) {
        const set = new Set(r.pairs.map(([a, b]) => pairKey(a, b)));
        let same = 0;
        for (const x of set) if (ours.pairs.has(x)) same++;
        rows.push([
          `${name} ${ref.versions[name]} (shingles prebuilt)`,
          num(t.wall_s, 2),
          num(n / t.wall_s, 0),
          num(mb / t.wall_s, 1),
          num(mb / t.cpu_s, 1),
          String(set.size),
          String(same),
          recall(set, nearPlanted),
          recall(set, exactPlanted),
          mae(r.eval_estimates ?? []),
          '-',
        ]);
      } else if (r.flagged) {
        let same = 0;
        for (const x of r.flagged) if (ours.flagged.has(x)) same++;
        rows.push([
          `${name} ${ref.versions[name]} (matrix; flags only)`,
          num(t.wall_s, 2),
          num(n / t.wall_s, 0),
          num(mb / t.wall_s, 1),
          num(mb / t.cpu_s, 1),
          `${r.flagged.length} docs`,
          `${same} docs`,
          '-',
          '-',
          '-',
          '-',
        ]);
      }
    }
    rows.push([
      'Python shingling (not in the times above)',
      num(ref.shingle_time.wall_s, 2),
      num(n / ref.shingle_time.wall_s, 0),
      num(mb / ref.shingle_time.wall_s, 1),
      num(mb / ref.shingle_time.cpu_s, 1),
      '-',
      '-',
      '-',
      '-',
      '-',
      num(ref.max_rss_kb / 1024, 0),
    ]);
  }
  console.log(
    `\nmix bench, part 1: near dedup on ${n} documents (${corpus.planted.length} planted copies: ${exactPlanted.length} exact, ${nearPlanted.length} near), ${mb.toFixed(1)} MB, ${ours.shingles} shingles`
  );
  console.log(
    `  ${p.shingleSize}-word shingles, ${p.numPerm} perms, ${p.bands} bands × ${p.rows} rows, pair = shares a band and estimated Jaccard ≥ ${threshold.toFixed(3)}; seed ${p.seed}; bottega and rensa: fastest of ${repeat} runs`
  );
  console.log(formatTable(header, rows));
  console.log(
    `  bottega sketch only: wasm ${num(mb / ours.sketch_s, 1)} MB/s, pure TS ${num(mb / pure.sketch_s, 1)} MB/s; docs sharing a band with another: ${ours.flagged.size}`
  );
  console.log(`  wasm and pure TS signatures bit-identical on all ${n} documents: ${samePure ? 'yes' : 'NO'}`);
  let code = samePure ? 0 : 1;
  if (ref) {
    const same = ref.shingle_sha256 === ourDigest;
    console.log(
      `  shingles identical on both sides: ${same ? 'yes' : 'NO'} (${ref.shingles} in Python, ${ours.shingles} here; sha256 ${ourDigest.slice(0, 12)})`
    );
    if (!same) code = 1;
    const r = ref.impls.rensa;
    if (r) {
      const sh = ref.shingle_time;
      // per core: the speed ratio of one thread each, by CPU time (≥ 1: bottega is as fast or faster)
      for (const [label, o] of [
        ['wasm', ours],
        ['pure TS', pure],
      ] as const)
        console.log(
          `  per core, sketch + LSH + confirm from prebuilt shingles (rensa) vs from raw text (bottega ${label}): bottega / rensa = ${(r.timing.cpu_s / o.cpu_s).toFixed(2)}x CPU (${num(mb / o.cpu_s, 1)} vs ${num(mb / r.timing.cpu_s, 1)} MB/cpu-s), ${(r.timing.wall_s / o.wall_s).toFixed(2)}x wall`
        );
      console.log(
        `  raw text → pairs, shingling included on both sides: bottega ${num(mb / ours.wall_s, 1)} MB/s vs rensa + Python shingling ${num(mb / (r.timing.wall_s + sh.wall_s), 1)} MB/s = ${((r.timing.wall_s + sh.wall_s) / ours.wall_s).toFixed(2)}x wall, ${((r.timing.cpu_s + sh.cpu_s) / ours.cpu_s).toFixed(2)}x CPU`
      );
    }
  } else {
    console.log(`  references NOT run: ${refError}`);
    code = 3;
  }
  const meanTrue = trueJ.reduce((a, b) => a + b, 0) / Math.max(1, trueJ.length);
  console.log(
    `  planted near pairs: true Jaccard mean ${meanTrue.toFixed(3)}, min ${Math.min(...trueJ).toFixed(3)}; est. MAE = mean |estimate − true Jaccard| over them`
  );
  const nearHits = nearPlanted.filter((x) => ours.pairs.has(pairKey(x.a, x.b))).length;
  if (nearHits < 0.9 * nearPlanted.length) code = code || 1;
  return code;
}

// ---------------------------------------------------------------------------------------------
// Part 2: the full pipeline in a child process, in a memory-limited cgroup when possible.

/** What the pipeline child reports. */
interface ChildResult {
  wall_s: number;
  cpu_s: number;
  max_rss_mb: number;
  documents_in: number;
  tokens_in: number;
  documents_kept: number;
  tokens_out: number;
  removed: Record<string, number>;
}

/** A memory-limited cgroup for child processes: v2 (`memory.max`) or v1 (`memory.limit_in_bytes`). */
interface MemCgroup {
  dir: string;
  version: 1 | 2;
  limitBytes: number;
}

/**
 * Creates `bottega-bench-mix-<pid>` under this process's own memory cgroup (so any limit above it
 * still applies), trying cgroup v2 and then v1; returns null with the reason when neither is
 * writable.
 */
function makeCgroup(limitBytes: number): { cg: MemCgroup | null; why: string } {
  const why: string[] = [];
  let lines: string[] = [];
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  } catch (e) {
    return { cg: null, why: `cannot read /proc/self/cgroup (${(e as Error).message})` };
  }
  const name = `bottega-bench-mix-${process.pid}`;
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const v2root = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
  const tries: { base: string; version: 1 | 2; file: string }[] = [];
  if (v2 !== undefined) tries.push({ base: join(v2root, v2), version: 2, file: 'memory.max' });
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'))?.split(':')[2];
  if (v1 !== undefined)
    tries.push({ base: join('/sys/fs/cgroup/memory', v1), version: 1, file: 'memory.limit_in_bytes' });
  for (const t of tries) {
    const dir = join(t.base, name);
    try {
      if (t.version === 2) {
        const ctl = readFileSync(join(t.base, 'cgroup.controllers'), 'utf8');
        if (!ctl.split(/\s+/).includes('memory')) throw new Error(`no memory controller in ${t.base}`);
      }
      mkdirSync(dir);
      try {
        writeFileSync(join(dir, t.file), String(limitBytes));
        if (t.version === 1) {
          try {
            writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes));
          } catch {
            /* no swap accounting: fine, the box has no swap */
          }
        }
        return { cg: { dir, version: t.version, limitBytes }, why: '' };
      } catch (e) {
        rmdirSync(dir);
        throw e;
      }
    } catch (e) {
      why.push(`cgroup v${t.version} at ${t.base}: ${(e as Error).message}`);
    }
  }
  return { cg: null, why: why.join('; ') || 'no memory cgroup found' };
}

/** Peak memory the cgroup saw (RSS + page cache), bytes, if the kernel reports it. */
function cgroupPeak(cg: MemCgroup): number | undefined {
  for (const f of cg.version === 2 ? ['memory.peak'] : ['memory.max_usage_in_bytes'])
    try {
      return Number(readFileSync(join(cg.dir, f), 'utf8').trim());
    } catch {
      /* older kernels */
    }
  return undefined;
}

function resetCgroupPeak(cg: MemCgroup): void {
  try {
    if (cg.version === 1) writeFileSync(join(cg.dir, 'memory.max_usage_in_bytes'), '0');
    else writeFileSync(join(cg.dir, 'memory.peak'), '0');
  } catch {
    /* not resettable on this kernel */
  }
}

function removeCgroup(cg: MemCgroup): void {
  for (let i = 0; i < 20; i++) {
    try {
      rmdirSync(cg.dir);
      return;
    } catch {
      spawnSync('sleep', ['0.1']);
    }
  }
}

/** Copies the first `bytes` of `src` (cut after a newline) to `dst`. */
function copyPrefix(src: string, dst: string, bytes: number): number {
  const fin = openSync(src, 'r');
  const fout = openSync(dst, 'w');
  const buf = Buffer.allocUnsafe(1 << 20);
  let done = 0;
  try {
    for (;;) {
      const n = readSync(fin, buf, 0, buf.length, done);
      if (n === 0) break;
      let end = n;
      if (done + n >= bytes) {
        const nl = buf.subarray(0, n).indexOf(10, Math.max(0, bytes - done - 1));
        end = nl < 0 ? n : nl + 1;
      }
      writeSync(fout, buf, 0, end);
      done += end;
      if (end < n || done >= bytes) break;
    }
  } finally {
    closeSync(fin);
    closeSync(fout);
  }
  return done;
}

async function runChild(
  args: { input: string; bench: string; outDir: string; resultFile: string },
  cg: MemCgroup | null
): Promise<{ code: number | null; signal: string | null }> {
  const self = fileURLToPath(import.meta.url);
  const nodeArgs = ['--import', 'tsx', self, '--pipeline-child', JSON.stringify(args)];
  const cmd = cg
    ? ['sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', cg.dir, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(cmd[0] as string, cmd[1] as string[], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: process.cwd(),
  });
  return new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
}

/** The child: runs the pipeline once and writes a {@link ChildResult}. */
async function pipelineChild(argJson: string): Promise<void> {
  const a = JSON.parse(argJson) as { input: string; bench: string; outDir: string; resultFile: string };
  const { runMixPipeline } = await import('../activities/mix/pipeline');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runMixPipeline({
    outDir: a.outDir,
    concurrency: 1,
    config: {
      sources: [{ name: 'prs', path: a.input, format: 'text' }],
      decontaminate: { benchmarks: [{ name: 'bench', path: a.bench, format: 'jsonl' }] },
      stages: [{ name: 'mt1', seq_len: 32768, pack: true, sources: [{ source: 'prs' }] }],
    },
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const src = r.result.summary.sources.prs!;
  const st = r.result.summary.stages.mt1!;
  const out: ChildResult = {
    wall_s: wall,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
    documents_in: src.documents_in,
    tokens_in: src.tokens_in,
    documents_kept: src.documents_kept,
    tokens_out: st.tokens,
    removed: Object.fromEntries(Object.entries(src.removed).map(([k, v]) => [k, v.documents])),
  };
  writeFileSync(a.resultFile, JSON.stringify(out));
}

/** Part 2; returns the exit code. */
async function pipelinePart(sizesMb: number[], memMb: number, seed: number, dir: string): Promise<number> {
  const maxBytes = Math.max(...sizesMb) * 1e6;
  // a benchmark file to decontaminate against: 200 texts (4 kB each) unrelated to the corpus,
  // of which the corpus generator pastes one into 0.5% of its documents
  const bench = join(dir, 'bench.jsonl');
  const benchTexts = [...baseDocuments(200, seed + 7777)].map((t) => t.slice(0, 4000));
  writeFileSync(bench, benchTexts.map((text, i) => JSON.stringify({ id: `bench-${i}`, text })).join('\n') + '\n');
  const big = join(dir, 'corpus.jsonl');
  let t0 = performance.now();
  const gen = await writeJsonlCorpus(big, maxBytes, seed, benchTexts);
  log(
    `pipeline corpus: ${gen.documents} documents (${gen.contaminated} contaminated), ${(gen.bytes / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`
  );

  const { cg, why } = makeCgroup(memMb * 1024 * 1024);
  const rows: string[][] = [];
  let code = 0;
  let maxRss = 0;
  let maxInput = 0;
  try {
    for (const mbSize of sizesMb) {
      const input = join(dir, `corpus-${mbSize}.jsonl`);
      const bytes = mbSize * 1e6 >= gen.bytes ? gen.bytes : copyPrefix(big, input, mbSize * 1e6);
      const path = mbSize * 1e6 >= gen.bytes ? big : input;
      const outDir = join(dir, `out-${mbSize}`);
      const resultFile = join(dir, `result-${mbSize}.json`);
      if (cg) resetCgroupPeak(cg);
      log(`pipeline on ${(bytes / 1e6).toFixed(0)} MB${cg ? ` (cgroup memory limit ${memMb} MiB)` : ''} ...`);
      t0 = performance.now();
      const ex = await runChild({ input: path, bench, outDir, resultFile }, cg);
      const peak = cg ? cgroupPeak(cg) : undefined;
      if (ex.code !== 0 || !existsSync(resultFile)) {
        rows.push([
          `${(bytes / 1e6).toFixed(0)} MB`,
          `FAILED (${ex.signal ?? `exit ${ex.code}`}${ex.signal === 'SIGKILL' ? ', OOM?' : ''})`,
        ]);
        code = 1;
        continue;
      }
      const r = JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult;
      const mb = bytes / 1e6;
      maxRss = Math.max(maxRss, r.max_rss_mb);
      maxInput = Math.max(maxInput, bytes);
      rows.push([
        `${mb.toFixed(0)} MB`,
        String(r.documents_in),
        `${(r.tokens_in / 1e6).toFixed(1)}M`,
        Object.entries(r.removed)
          .map(([k, v]) => `${k.replace('duplicate_', 'dup_').replace('contaminated_', 'contam_')} ${v}`)
          .join(', ') || '-',
        num(r.wall_s, 1),
        num(mb / r.wall_s, 1),
        num(mb / r.cpu_s, 1),
        num(r.tokens_in / r.cpu_s / 1e6, 2),
        num(r.max_rss_mb, 0),
        peak === undefined ? '-' : num(peak / 1048576, 0),
      ]);
      rmSync(outDir, { recursive: true, force: true });
      if (path !== big) rmSync(path, { force: true });
    }
  } finally {
    if (cg) removeCgroup(cg);
  }
  console.log(
    `\nmix bench, part 2: full pipeline (read JSONL → length gate, decontamination vs 200 benchmark texts, exact + near dedup → plan → tokenize (qwen2.5) → pack 32k → uint32 shards), one shard writer`
  );
  console.log(
    cg
      ? `  each run in its own process in cgroup v${cg.version} ${cg.dir}, memory limit ${memMb} MiB for RSS + page cache: page cache left to the run ≈ ${memMb} − ${maxRss.toFixed(0)} (peak RSS) = ${(memMb - maxRss).toFixed(0)} MiB, the largest input is ${(maxInput / 1048576 / Math.max(1, memMb - maxRss)).toFixed(1)}x that`
      : `  NOT in a memory-limited cgroup (${why}); page cache is the machine's`
  );
  console.log(
    formatTable(
      [
        'input',
        'docs',
        'tokens',
        'removed (docs)',
        'time s',
        'MB/s',
        'MB/cpu-s',
        'Mtok/cpu-s',
        'peak RSS MB',
        'cgroup peak MiB',
      ],
      rows
    )
  );
  return code;
}

/** Runs the mix benchmark; returns the exit code. */
export async function runMixBench(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        docs: { type: 'string', default: '3000' },
        repeat: { type: 'string', default: '3' },
        seed: { type: 'string', default: '1' },
        impls: { type: 'string', default: 'rensa,rensa-bulk,datasketch' },
        python: { type: 'string' },
        threshold: { type: 'string' },
        'keep-temp': { type: 'boolean', default: false },
        'skip-dedup': { type: 'boolean', default: false },
        'skip-pipeline': { type: 'boolean', default: false },
        'sizes-mb': { type: 'string', default: '64,128,256' },
        'mem-mb': { type: 'string', default: '384' },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(String((e as Error).message));
    return 2;
  }
  const nDocs = Number(flags.docs);
  const repeat = Number(flags.repeat);
  const seed = Number(flags.seed);
  if (!Number.isInteger(nDocs) || nDocs <= 0 || !Number.isInteger(seed) || !Number.isInteger(repeat) || repeat < 1) {
    console.error('--docs and --repeat must be positive integers, --seed an integer');
    return 2;
  }
  const sizes = flags['sizes-mb'].split(',').map(Number);
  const memMb = Number(flags['mem-mb']);
  if (sizes.some((x) => !(x > 0)) || !(memMb >= 64)) {
    console.error('--sizes-mb must be positive numbers (MB), --mem-mb at least 64');
    return 2;
  }
  const p: MinHashParams = { ...DEFAULT_MINHASH_PARAMS, seed };
  const threshold = flags.threshold !== undefined ? Number(flags.threshold) : lshThreshold(p.bands, p.rows);
  const dir = mkdtempSync(join(tmpdir(), 'bottega-bench-mix-'));
  let code = 0;
  try {
    if (!flags['skip-dedup']) {
      const t0 = performance.now();
      const corpus = dedupCorpus(nDocs, seed);
      log(`corpus: ${corpus.docs.length} documents in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      code = await dedupPart(corpus, p, threshold, flags.python, flags.impls, dir, repeat);
    }
    if (!flags['skip-pipeline']) code = (await pipelinePart(sizes, memMb, seed, dir)) || code;
  } finally {
    if (!flags['keep-temp']) rmSync(dir, { recursive: true, force: true });
    else console.log(`temp files kept in ${dir}`);
  }
  return code;
}

if (
  process.argv[2] === '--pipeline-child' &&
  process.argv[1] &&
  resolve(process.argv[1]) === fileURLToPath(import.meta.url)
)
  pipelineChild(process.argv[3] ?? '{}').then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    }
  );
