import type { Client } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { STAGES } from '../contracts';
import { connectClient } from './client';
import { EXIT, runExperiment } from './run';
import { experimentJsonSchema } from './schema';
import { loadSpecFile } from './spec-file';
import { formatExperimentResult } from './summary';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

/** Loads a spec or exits 2, printing one line per problem. Runs before any connection. */
function specOrExit(file: string) {
  const loaded = loadSpecFile(file);
  if (!loaded.ok) {
    err(`${file}: invalid experiment spec`);
    for (const p of loaded.problems) err(`${p.path}: ${p.message}`);
    process.exit(EXIT.invalid);
  }
  return loaded.spec;
}

const program = new Command()
  .name('bottega')
  .description('Durable experiment pipeline for agentic mid-training of code LLMs, on Temporal.')
  .showHelpAfterError();

/** Runs `fn` with a connected Temporal client (exit 3 when the server is unreachable), then closes it. */
async function withClient(fn: (client: Client) => Promise<unknown>): Promise<void> {
  let conn;
  try {
    conn = await connectClient();
  } catch (e) {
    err((e as Error).message);
    process.exit(EXIT.unavailable);
  }
  try {
    await fn(conn.client);
  } finally {
    await conn.connection.close();
  }
}

program
  .command('run')
  .description('start an experiment from a YAML or JSON spec')
  .argument('<spec>', 'spec file (see examples/)')
  .option('--wait', 'wait for the result and print a summary')
  .option('--json', 'print the final result (with every artifact reference) as JSON on stdout; implies --wait')
  .option('--id <id>', 'override the experiment id')
  .action(async (file: string, o: { wait?: boolean; json?: boolean; id?: string }) => {
    const spec = specOrExit(file);
    if (o.id) spec.id = o.id;
    await withClient(async (client) => {
      const r = await runExperiment(client, spec, { wait: !!o.wait, json: !!o.json, out, err });
      if (r.result) {
        if (o.json) out(JSON.stringify(r.result, null, 2));
        else out(formatExperimentResult(r.result));
      }
      process.exitCode = r.code;
    });
  });

program
  .command('validate')
  .description('check a spec without running it (exit 2 when invalid)')
  .argument('<spec>')
  .action((file: string) => {
    const spec = specOrExit(file);
    const stages = STAGES.filter((s) => spec[s] !== undefined);
    out(`${file}: valid (experiment ${spec.id}, stages: ${stages.join(', ') || 'none'})`);
  });

program
  .command('schema')
  .description('print the ExperimentSpec JSON Schema (for the Web UI start form and editors)')
  .action(() => {
    out(JSON.stringify(experimentJsonSchema(), null, 2));
  });

program
  .command('dev')
  .description('manage the local stack: Temporal, S3 (SeaweedFS), Docker, Slurm')
  .argument('<action>', 'up | down | status | env')
  .argument('[services...]', 'temporal s3 docker slurm (default: all)')
  .action((action: string, services: string[]) => {
    const r = spawnSync('bash', [`${REPO_ROOT}/infra/dev.sh`, action, ...services], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  });

program
  .command('eval')
  .description('grade predictions (SWE-bench JSONL/JSON) against validated task records, as the SWE-bench harness does')
  .requiredOption(
    '--predictions <file>',
    'predictions: JSONL lines, a JSON list, or a JSON object keyed by instance_id'
  )
  .requiredOption('--tasks <file>', "validated task records (the build stage's tasks artifact, JSONL)")
  .option(
    '--run-id <id>',
    'names the log directory and the run report (results are cached by content, not by run id)',
    'bottega-eval'
  )
  .option('--out <dir>', 'output root: logs/run_evaluation/<run_id>/<model>/<id>/ and <model>.<run_id>.json', '.')
  .option('--concurrency <n>', 'predictions graded at once (default 3/4 of the cores, at most 24)', Number)
  .option('--timeout-s <n>', 'wall-clock limit of one test run', Number, 1800)
  .option('--cpus <n>', 'CPU cores per container', Number, 1)
  .option('--memory-mb <n>', 'memory per container, MiB', Number, 2048)
  .option('--pids <n>', 'processes per container', Number, 512)
  .option('--no-cache', 'grade everything afresh and store nothing in $BOTTEGA_HOME/eval-cache')
  .option('--allow-unknown', 'grade the rest when predictions name instances not in --tasks (listed as unknown_ids)')
  .option('--json', 'print the run report as JSON on stdout')
  .action(async (o: import('./eval').EvalFlags) => {
    const { evalCommand } = await import('./eval');
    process.exitCode = await evalCommand(o, { out, err });
  });

const envs = program.command('envs').description('Docker environments (images) built by the build stage');
envs
  .command('ls')
  .description('list bottega images with the bytes each adds over its parent')
  .action(async () => {
    const { envsList } = await import('./envs');
    await envsList(out);
  });
envs
  .command('prune')
  .description('remove least-recently-used env/instance images until the budget is met (never one in use)')
  .option('--budget-gb <n>', 'bytes to keep, in GB', (v) => Number(v), 50)
  .option('--dry-run', 'only show what would be removed')
  .action(async (o: { budgetGb: number; dryRun?: boolean }) => {
    if (!Number.isFinite(o.budgetGb) || o.budgetGb < 0) {
      err('--budget-gb: expected a number of gigabytes >= 0');
      process.exit(2);
    }
    const { envsPrune } = await import('./envs');
    await envsPrune({ budgetGb: o.budgetGb, dryRun: !!o.dryRun }, out);
  });

program
  .command('slurm')
  .description('Slurm jobs of the train stage')
  .command('reap')
  .description('list bottega jobs whose workflow no longer runs (terminated, lost); --cancel scancels them')
  .option('--spec <file>', "take the cluster (backend, ssh, rest) from this spec's train.cluster")
  .option('--cancel', 'scancel the orphans')
  .action(async (o: { spec?: string; cancel?: boolean }) => {
    const spec = o.spec ? specOrExit(o.spec) : null;
    const { slurmReap } = await import('./slurm');
    await withClient((client) => slurmReap(client, spec, { cancel: !!o.cancel }, out));
  });

program
  .command('worker')
  .description('run a worker serving the task queues of the given capabilities')
  .option(
    '--capabilities <list>',
    'comma-separated: cpu, docker, slurm',
    process.env.BOTTEGA_WORKER_CAPABILITIES ?? 'cpu'
  )
  .action(async (o: { capabilities: string }) => {
    const { runWorker } = await import('../workers/main');
    await runWorker(o.capabilities);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  err(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
