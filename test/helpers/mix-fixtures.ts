/**
 * Small generated sources for mix-stage tests: mine samples (general, python), passing and failing
 * trajectories and a SWE-bench-style benchmark file, with planted problems whose removal tests
 * check: an exact duplicate, a near-duplicate pair, a sample that quotes a benchmark problem
 * statement in its PR body, a sample from a benchmark PR (identity), and a task with too many
 * trajectories; and a pair that shares an LSH band but is below the Jaccard threshold (both kept).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MineSample, Trajectory, TrajectoryMessage } from '../../contracts';
import { DEFAULT_MINHASH_PARAMS, MinHasher, jaccardEstimate, lshThreshold } from '../../activities/mix/minhash';

/** Seeded word salad: distinct documents share few 5-word shingles. */
export class Words {
  private state: number;
  private readonly vocab: string[];
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
    const syl = ['ka', 'lo', 'mi', 'su', 'te', 'ra', 'vo', 'ne', 'pi', 'du', 'zo', 'ge', 'ba', 'fi', 'ho', 'ju'];
    this.vocab = [];
    for (let i = 0; i < 3000; i++) {
      const n = 2 + (i % 3);
      let w = '';
      let x = i * 7919 + 13;
      for (let k = 0; k < n; k++) {
        w += syl[x % syl.length];
        x = Math.floor(x / syl.length) + k * 31;
      }
      this.vocab.push(`${w}${i}`);
    }
  }
  private next(): number {
    // xorshift32
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** `n` random words joined by spaces. */
  text(n: number): string {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.vocab[this.next() % this.vocab.length]!);
    return out.join(' ');
  }
}

/** A benchmark item as the fixtures write it. */
export interface BenchItem {
  instance_id: string;
  repo: string;
  base_commit: string;
  problem_statement: string;
  patch: string;
}

/** Paths and planted ids of a generated fixture set. */
export interface MixFixtures {
  inputs: Record<'mine.general' | 'mine.python' | 'rollout.pass' | 'rollout.fail', string>;
  benchmark: string;
  general: MineSample[];
  python: MineSample[];
  pass: Trajectory[];
  fail: Trajectory[];
  planted: {
    exactDuplicate: string;
    exactOriginal: string;
    nearDuplicate: string;
    nearOriginal: string;
    /** Share an LSH band (default parameters) but their estimated Jaccard is below the threshold. */
    bandOnlyPair: [string, string];
    /** Estimated Jaccard similarity of that pair. */
    bandOnlySimilarity: number;
    contaminatedNgram: string;
    contaminatedIdentity: string;
    benchItem: string;
    overCapTask: string;
  };
}

function sample(id: string, format: 'general' | 'python', repo: string, pr: number, text: string): MineSample {
  return { id, format, repo, pr_number: pr, text, tokens: 0 };
}

function trajectory(w: Words, instance: string, k: number, label: 'pass' | 'fail'): Trajectory {
  const messages: TrajectoryMessage[] = [
    { role: 'system', content: 'You are a helpful assistant that can interact with a computer.' },
    { role: 'user', content: `Fix the issue: ${w.text(30)}` },
    {
      role: 'assistant',
      content: `Let me look. ${w.text(20)}`,
      reasoning_content: w.text(10),
      tool_calls: [
        {
          id: 'c1',
          type: 'function',
          function: { name: 'bash', arguments: JSON.stringify({ command: `ls ${w.text(2)}` }) },
        },
      ],
    },
    { role: 'tool', tool_call_id: 'c1', content: w.text(25) },
    { role: 'assistant', content: `Done: ${w.text(15)}` },
  ];
  return {
    schema_version: 1,
    id: `${instance}:openai:${k}`,
    instance_id: instance,
    rollout_index: k,
    policy: 'openai',
    model: 'test',
    sampling: null,
    messages,
    steps: [],
    exit_reason: 'submitted',
    final_patch: '',
    report: null,
    label,
    tokens: null,
    started_at: null,
    finished_at: null,
  };
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');

/** Whether two signatures agree on every row of at least one band. */
function shareBand(a: Uint32Array, b: Uint32Array, bands: number, rows: number): boolean {
  for (let band = 0; band < bands; band++) {
    let same = true;
    for (let r = band * rows; r < (band + 1) * rows && same; r++) same = a[r] === b[r];
    if (same) return true;
  }
  return false;
}

/**
 * Two texts of 200 words differing in a block of 60 (true Jaccard of 5-word shingles ≈ 0.53) that
 * share an LSH band under the default MinHash parameters and `seed`, with an estimated Jaccard
 * below the LSH threshold: the first such pair in a seeded sequence of pairs.
 */
function bandOnlyPair(seed: number, minhashSeed: number): { a: string; b: string; similarity: number } {
  const p = { ...DEFAULT_MINHASH_PARAMS, seed: minhashSeed };
  const hasher = new MinHasher(p);
  const head = '<pr> Title: band pair\n';
  for (let attempt = 1; attempt <= 2000; attempt++) {
    // a new pair each time: with `a` fixed, only bins whose minimum `a` shares can ever agree,
    // and for some texts no band is made of such bins
    const words = new Words(seed * 31 + 5 + 104729 * attempt).text(200).split(' ');
    const a = head + words.join(' ');
    const sa = hasher.signature(a);
    const block = new Words(seed * 7919 + attempt).text(60).split(' ');
    const b = head + [...words.slice(0, 80), ...block, ...words.slice(140)].join(' ');
    const sb = hasher.signature(b);
    const similarity = jaccardEstimate(sa, sb);
    if (shareBand(sa, sb, p.bands, p.rows) && similarity < lshThreshold(p.bands, p.rows)) return { a, b, similarity };
  }
  throw new Error('no band-only pair found');
}

/**
 * Writes the fixture files under `dir`. Sizes: `general` general samples, `python` python
 * samples, `tasks` tasks with `perTask` passing trajectories each, and one failing per task.
 */
export function makeMixFixtures(
  dir: string,
  opts: {
    seed?: number;
    general?: number;
    python?: number;
    tasks?: number;
    perTask?: number;
    words?: number;
    /** `mix.seed` the band-only pair is built for (default 1234, that of {@link paperRecipe}). */
    minhashSeed?: number;
  } = {}
): MixFixtures {
  mkdirSync(dir, { recursive: true });
  const w = new Words(opts.seed ?? 7);
  const nWords = opts.words ?? 120;
  const bench: BenchItem[] = [
    {
      instance_id: 'astropy__astropy-12907',
      repo: 'astropy/astropy',
      base_commit: 'd16bfe05a744909de4b27f5875fe0d4ed41ce607',
      problem_statement: `Modeling separability matrix is wrong for nested compound models. ${w.text(60)}`,
      patch: `diff --git a/astropy/modeling/separable.py b/astropy/modeling/separable.py\n${w.text(40)}`,
    },
    {
      instance_id: 'django__django-11099',
      repo: 'django/django',
      base_commit: 'd26b2424437dabeeca94d7900b37d2df4410da0c',
      problem_statement: `UsernameValidator allows trailing newline in usernames. ${w.text(60)}`,
      patch: `diff --git a/django/contrib/auth/validators.py ${w.text(40)}`,
    },
  ];
  const general: MineSample[] = [];
  const nGeneral = opts.general ?? 12;
  for (let i = 0; i < nGeneral; i++)
    general.push(
      sample(`gen-${i}`, 'general', `acme/lib${i % 3}`, 100 + i, `<pr> Title: ${w.text(8)}\n${w.text(nWords)}`)
    );
  // planted: an exact duplicate (whitespace differs), a near duplicate (one word changed in ~200),
  // a PR body quoting a benchmark problem statement, a PR of a benchmark repo+number
  const orig = general[1]!;
  general.push(sample('gen-exact-dup', 'general', 'acme/other', 900, orig.text.replace(/ /g, '  ') + '\n'));
  const longText = `<pr> Title: near original\n${w.text(200)}`;
  general.push(sample('gen-near-a', 'general', 'acme/near', 901, longText));
  const words = longText.split(' ');
  words[150] = 'CHANGED';
  general.push(sample('gen-near-b', 'general', 'acme/near', 902, words.join(' ')));
  general.push(
    sample(
      'gen-contaminated',
      'general',
      'acme/quoter',
      903,
      `<pr> Title: fix separability\nAs reported upstream:\n${bench[0]!.problem_statement}\nThanks!`
    )
  );
  general.push(sample('gen-benchmark-pr', 'general', 'django/django', 11099, `<pr> Title: ${w.text(50)}`));
  const band = bandOnlyPair(opts.seed ?? 7, opts.minhashSeed ?? 1234);
  general.push(sample('gen-band-a', 'general', 'acme/band', 904, band.a));
  general.push(sample('gen-band-b', 'general', 'acme/band', 905, band.b));
  const python: MineSample[] = [];
  for (let i = 0; i < (opts.python ?? 8); i++)
    python.push(sample(`py-${i}`, 'python', `acme/py${i % 2}`, 200 + i, `# Repository Context\n${w.text(nWords)}`));
  const pass: Trajectory[] = [];
  const fail: Trajectory[] = [];
  const tasks = opts.tasks ?? 3;
  const perTask = opts.perTask ?? 2;
  for (let t = 0; t < tasks; t++) {
    for (let k = 0; k < perTask; k++) pass.push(trajectory(w, `acme__task-${t}`, k, 'pass'));
    fail.push(trajectory(w, `acme__task-${t}`, perTask, 'fail'));
  }
  // one task with 5 passing trajectories: the 5th is over the cap of 4
  for (let k = 0; k < 5; k++) pass.push(trajectory(w, 'acme__busy-1', k, 'pass'));
  const inputs = {
    'mine.general': join(dir, 'samples.general.jsonl'),
    'mine.python': join(dir, 'samples.python.jsonl'),
    'rollout.pass': join(dir, 'trajectories.pass.jsonl'),
    'rollout.fail': join(dir, 'trajectories.fail.jsonl'),
  };
  writeFileSync(inputs['mine.general'], jsonl(general));
  writeFileSync(inputs['mine.python'], jsonl(python));
  writeFileSync(inputs['rollout.pass'], jsonl(pass));
  writeFileSync(inputs['rollout.fail'], jsonl(fail));
  const benchmark = join(dir, 'swe-bench-verified.jsonl');
  writeFileSync(benchmark, jsonl(bench));
  return {
    inputs,
    benchmark,
    general,
    python,
    pass,
    fail,
    planted: {
      exactDuplicate: 'gen-exact-dup',
      exactOriginal: orig.id,
      nearDuplicate: 'gen-near-b',
      nearOriginal: 'gen-near-a',
      bandOnlyPair: ['gen-band-a', 'gen-band-b'],
      bandOnlySimilarity: band.similarity,
      contaminatedNgram: 'gen-contaminated',
      contaminatedIdentity: 'gen-benchmark-pr',
      benchItem: 'swe-bench-verified:astropy__astropy-12907',
      overCapTask: 'acme__busy-1:openai:4',
    },
  };
}

/** The paper's recipe over the fixtures (mt1: general; mt2: python + pass ×3 + fail; sft: pass ×5). */
export function paperRecipe(fx: MixFixtures, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seed: 1234,
    shard_tokens: 2048,
    sources: [
      { name: 'general_prs', from: 'mine.general' },
      { name: 'python_prs', from: 'mine.python' },
      { name: 'traj_pass', from: 'rollout.pass' },
      { name: 'traj_fail', from: 'rollout.fail' },
    ],
    decontaminate: { benchmarks: [{ name: 'swe-bench-verified', path: fx.benchmark, format: 'swebench' }] },
    stages: [
      { name: 'mt1', seq_len: 512, sources: [{ source: 'general_prs', repeat: 1 }] },
      {
        name: 'mt2',
        seq_len: 512,
        sources: [
          { source: 'python_prs', repeat: 1 },
          { source: 'traj_pass', repeat: 3 },
          { source: 'traj_fail', repeat: 1 },
        ],
      },
      {
        name: 'sft',
        seq_len: 4096,
        pack: false,
        loss_mask: 'sft',
        sources: [{ source: 'traj_pass', repeat: 5, max_repetition: 5 }],
      },
    ],
    ...over,
  };
}
