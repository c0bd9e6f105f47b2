/**
 * `npm run bench -- mine`: a deterministic synthetic corpus of PrRecords is rendered in both sample
 * formats and tokenized; then the Rust-backed HF `tokenizers` (bench/tokenizers_ref.py, one thread)
 * encodes exactly the same texts from the same tokenizer.json, and the ids are compared.
 *
 * Exit code: 0 ok, 1 ids differ (or a render failed unexpectedly), 2 bad flags, 3 Python or its
 * `tokenizers` package missing.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PrRecord } from '../contracts/pr';
import { renderGeneralSample } from '../activities/mine/render-general';
import { renderPythonSample } from '../activities/mine/render-python';
import { loadTokenizer, tokenizerJsonPath, type Tokenizer } from '../activities/mine/tokenizer';
import { syntheticCorpus } from './corpus';
import { formatTable, num } from './table';

interface PyResult {
  version: string;
  texts: number;
  modes: Record<string, { seconds: number; tokens: number; tokens_per_s: number }>;
  sha256: string;
  per_text: string[];
  counts: number[];
  max_rss_kb: number;
  ids?: number[][];
}

const rssMb = (): number => process.resourceUsage().maxRSS / 1024;

function idsBytes(ids: number[]): Buffer {
  const b = Buffer.allocUnsafe(ids.length * 4);
  for (let i = 0; i < ids.length; i++) b.writeUInt32LE(ids[i]!, i * 4);
  return b;
}

/** Renders one PR in both formats; Format A may legitimately refuse (RenderError). */
function render(pr: PrRecord, out: string[]): number {
  let failed = 0;
  try {
    out.push(renderPythonSample(pr).text);
  } catch (e) {
    if ((e as Error)?.name !== 'RenderError') throw e;
    failed++;
  }
  out.push(renderGeneralSample(pr));
  return failed;
}

/** Runs the mine benchmark; returns the exit code. */
export async function runMineBench(argv: string[]): Promise<number> {
  // `--scale`: the stage through Temporal at growing sizes, a different benchmark (bench/mine-scale.ts).
  if (argv.includes('--scale')) return (await import('./mine-scale')).runMineScaleBench(argv);
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        prs: { type: 'string', default: '2000' },
        seed: { type: 'string', default: '1' },
        lenml: { type: 'string', default: '200' },
        'py-modes': { type: 'string', default: 'batch,loop' },
        python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
        'keep-temp': { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(String((e as Error).message));
    return 2;
  }
  const nPrs = Number(flags.prs);
  const seed = Number(flags.seed);
  const nLenml = Number(flags.lenml);
  if (!Number.isInteger(nPrs) || nPrs <= 0 || !Number.isInteger(seed) || !Number.isInteger(nLenml) || nLenml < 0) {
    console.error('--prs must be a positive integer; --seed and --lenml integers');
    return 2;
  }

  const rows: string[][] = [];
  const log = (s: string): void => void process.stderr.write(`${s}\n`);

  // 1. corpus
  let t0 = performance.now();
  const prs = syntheticCorpus(nPrs, seed);
  log(`corpus: ${nPrs} PRs generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // 2. render only
  const texts: string[] = [];
  let renderFailures = 0;
  t0 = performance.now();
  for (const pr of prs) renderFailures += render(pr, texts);
  const renderS = (performance.now() - t0) / 1000;
  const chars = texts.reduce((a, t) => a + t.length, 0);
  rows.push(['JS render only (A+B)', num(renderS, 2), num(nPrs / renderS, 0), '-', '-', num(rssMb(), 0)]);

  // 3. tokenize only, fresh tokenizer (cold cache); digests outside the timed region
  t0 = performance.now();
  const tk: Tokenizer = loadTokenizer('qwen2.5');
  const loadS = (performance.now() - t0) / 1000;
  const all = createHash('sha256');
  const perText: string[] = [];
  const counts: number[] = [];
  let tokS = 0;
  let tokens = 0;
  for (const t of texts) {
    const s = performance.now();
    const ids = tk.encode(t);
    tokS += performance.now() - s;
    tokens += ids.length;
    counts.push(ids.length);
    const b = idsBytes(ids);
    all.update(b);
    perText.push(createHash('sha256').update(b).digest('hex').slice(0, 16));
  }
  tokS /= 1000;
  const jsSha = all.digest('hex');
  rows.push([
    'JS tokenize only (cold cache)',
    num(tokS, 2),
    num(nPrs / tokS, 0),
    num(tokens / tokS / 1e6, 2),
    num(chars / tokS / 1e6, 1),
    num(rssMb(), 0),
  ]);

  // 4. tokenize again, warm cache
  t0 = performance.now();
  for (const t of texts) tk.encode(t);
  const warmS = (performance.now() - t0) / 1000;
  rows.push([
    'JS tokenize only (warm cache)',
    num(warmS, 2),
    num(nPrs / warmS, 0),
    num(tokens / warmS / 1e6, 2),
    num(chars / warmS / 1e6, 1),
    num(rssMb(), 0),
  ]);

  // 5. render + tokenize end to end (as the mine activity does: count()), fresh tokenizer
  const tk2 = loadTokenizer('qwen2.5');
  t0 = performance.now();
  let e2eTokens = 0;
  for (const pr of prs) {
    const out: string[] = [];
    render(pr, out);
    for (const t of out) e2eTokens += tk2.count(t);
  }
  const e2eS = (performance.now() - t0) / 1000;
  rows.push([
    'JS render + tokenize (count)',
    num(e2eS, 2),
    num(nPrs / e2eS, 0),
    num(e2eTokens / e2eS / 1e6, 2),
    num(chars / e2eS / 1e6, 1),
    num(rssMb(), 0),
  ]);

  // 6. the npm package's own encoder (transformers.js port), on a subset
  let lenmlMismatch = 0;
  if (nLenml > 0) {
    const { TokenizerLoader } = await import('@lenml/tokenizers');
    const jsonPath = tokenizerJsonPath('qwen2.5');
    const lt = TokenizerLoader.fromPreTrained({
      tokenizerJSON: JSON.parse(readFileSync(jsonPath, 'utf8')),
      // The package ships tokenizer_config.json beside the Qwen3 file.
      tokenizerConfig: JSON.parse(
        readFileSync(join(dirname(tokenizerJsonPath('qwen3')), 'tokenizer_config.json'), 'utf8')
      ),
    });
    const sub = texts.slice(0, nLenml);
    let n = 0;
    let c = 0;
    t0 = performance.now();
    const theirs: number[][] = [];
    for (const t of sub) {
      const ids = lt.encode(t, { add_special_tokens: false });
      n += ids.length;
      c += t.length;
      theirs.push(ids);
    }
    const s = (performance.now() - t0) / 1000;
    sub.forEach((t, i) => {
      const ours = tk.encode(t);
      const other = theirs[i]!;
      if (ours.length !== other.length || ours.some((x, j) => x !== other[j])) lenmlMismatch++;
    });
    rows.push([
      `@lenml/tokenizers encode (${sub.length} texts)`,
      num(s, 2),
      '-',
      num(n / s / 1e6, 2),
      num(c / s / 1e6, 1),
      num(rssMb(), 0),
    ]);
  }

  // 7. HF tokenizers (Rust) on the same texts
  const dir = mkdtempSync(join(tmpdir(), 'bottega-bench-'));
  const textsFile = join(dir, 'texts.jsonl');
  await writeLines(textsFile, texts);
  const outFile = join(dir, 'result.json');
  const script = fileURLToPath(new URL('./tokenizers_ref.py', import.meta.url));
  log(`running ${flags.python} ${script} (one thread) on ${texts.length} texts ...`);
  const py = spawnSync(
    flags.python,
    [
      script,
      '--tokenizer',
      tokenizerJsonPath('qwen2.5'),
      '--texts',
      textsFile,
      '--out',
      outFile,
      '--modes',
      flags['py-modes'],
    ],
    {
      stdio: ['ignore', 'inherit', 'pipe'],
      env: { ...process.env, RAYON_NUM_THREADS: '1', RAYON_RS_NUM_CPUS: '1', TOKENIZERS_PARALLELISM: 'false' },
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    }
  );
  const header = ['stage', 'time s', 'PRs/s', 'Mtok/s', 'Mchar/s', 'peak RSS MB'];
  const printHead = (): void => {
    console.log(
      `\nmine bench: ${nPrs} PRs (seed ${seed}), ${texts.length} texts (${renderFailures} Format A render failures), ${(tokens / 1e6).toFixed(2)}M tokens, ${(chars / 1e6).toFixed(1)}M chars; tokenizer load ${loadS.toFixed(2)} s; fingerprint ${tk.fingerprint.slice(0, 12)}`
    );
  };
  if (py.error || py.status === 3) {
    printHead();
    console.log(formatTable(header, rows));
    const why = py.error ? `could not run ${flags.python}: ${py.error.message}` : py.stderr.trim();
    const hint = py.error
      ? 'Install Python 3 and then: pip install tokenizers'
      : 'Then rerun; set PYTHON=/path/to/python to pick another interpreter.';
    console.error(`\nHF tokenizers reference NOT run (the comparison is required): ${why}\n${hint}`);
    if (!flags['keep-temp']) rmSync(dir, { recursive: true, force: true });
    return 3;
  }
  if (py.status !== 0) {
    console.error(py.stderr);
    throw new Error(`tokenizers_ref.py exited with ${py.status}`);
  }
  const ref = JSON.parse(readFileSync(outFile, 'utf8')) as PyResult;
  for (const [mode, m] of Object.entries(ref.modes)) {
    const label = mode === 'batch' ? 'encode_batch' : 'encode per text';
    rows.push([
      `HF tokenizers ${ref.version} ${label} (1 thread)`,
      num(m.seconds, 2),
      num(nPrs / m.seconds, 0),
      num(m.tokens / m.seconds / 1e6, 2),
      num(chars / m.seconds / 1e6, 1),
      num(ref.max_rss_kb / 1024, 0),
    ]);
  }

  const identical = ref.sha256 === jsSha;
  printHead();
  console.log(formatTable(header, rows));
  const bestRust = Math.max(...Object.values(ref.modes).map((m) => m.tokens / m.seconds));
  console.log(
    `\nJS cold / best Rust per core: ${(tokens / tokS / bestRust).toFixed(2)}x; JS warm: ${(tokens / warmS / bestRust).toFixed(2)}x`
  );
  if (nLenml > 0) console.log(`@lenml/tokenizers texts whose ids differ from ours: ${lenmlMismatch}`);
  console.log(
    `ids identical: ${identical ? 'yes' : 'no'} (sha256 ${jsSha.slice(0, 16)}${identical ? '' : ` vs ${ref.sha256.slice(0, 16)}`})`
  );
  if (!identical) await explainMismatch(flags.python, script, dir, texts, perText, counts, ref, tk);
  if (!flags['keep-temp']) rmSync(dir, { recursive: true, force: true });
  else console.log(`temp files kept in ${dir}`);
  return identical ? 0 : 1;
}

async function writeLines(path: string, texts: string[]): Promise<void> {
  const ws = createWriteStream(path, 'utf8');
  for (const t of texts)
    if (!ws.write(JSON.stringify(t) + '\n')) await new Promise<void>((r) => ws.once('drain', () => r()));
  await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** Prints the first differing texts and where their ids diverge. */
async function explainMismatch(
  python: string,
  script: string,
  dir: string,
  texts: string[],
  perText: string[],
  counts: number[],
  ref: PyResult,
  tk: Tokenizer
): Promise<void> {
  const bad = perText.map((h, i) => (h === ref.per_text[i] ? -1 : i)).filter((i) => i >= 0);
  console.log(`${bad.length} of ${texts.length} texts differ; first: ${bad.slice(0, 10).join(', ')}`);
  const sample = bad.slice(0, 3);
  const f = join(dir, 'bad.jsonl');
  await writeLines(
    f,
    sample.map((i) => texts[i]!)
  );
  const out = join(dir, 'bad.json');
  spawnSync(
    python,
    [script, '--tokenizer', tokenizerJsonPath('qwen2.5'), '--texts', f, '--out', out, '--modes', 'loop', '--dump-ids'],
    { stdio: 'inherit' }
  );
  const r = JSON.parse(readFileSync(out, 'utf8')) as PyResult;
  sample.forEach((ti, k) => {
    const js = tk.encode(texts[ti]!);
    const rs = r.ids?.[k] ?? [];
    let p = 0;
    while (p < js.length && js[p] === rs[p]) p++;
    console.log(`text ${ti}: ${counts[ti]} JS ids vs ${ref.counts[ti]} Rust ids; first difference at id #${p}`);
    console.log(
      `  JS   ${JSON.stringify(js.slice(Math.max(0, p - 3), p + 5))}\n  Rust ${JSON.stringify(rs.slice(Math.max(0, p - 3), p + 5))}`
    );
  });
}
