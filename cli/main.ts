import type { Client } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import {
  ExperimentSpec,
  STAGES,
  describeIssues,
  experimentWarnings,
  type Capability,
  type ExperimentResult,
  type StageName,
} from '../contracts';
import { neededCapabilities } from './capabilities';
import { connectClient, workflowUrl } from './client';
import { DEV_ACTIONS, DEV_SERVICES, devHelpText } from './dev';
import { EXIT, experimentFailure, finalStageLines, runExperiment } from './run';
import { experimentJsonSchema } from './schema';
import { loadSpecFile } from './spec-file';
import { formatExperimentResult } from './summary';
import { redact, registerSecretsNamedIn } from '../activities/secrets';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
// Every line is redacted: a failure may quote a server that echoed a secret (activities/secrets.ts).
const out = (s: string) => process.stdout.write(`${redact(s)}\n`);
const err = (s: string) => process.stderr.write(`${redact(s)}\n`);

/** Loads a spec or exits 2, printing one line per problem. Runs before any connection. */
function specOrExit(file: string) {
  const loaded = loadSpecFile(file);
  if (!loaded.ok) {
    err(`${file}: invalid experiment spec`);
    for (const p of loaded.problems) err(`${p.path}: ${p.message}`);
    process.exit(EXIT.invalid);
  }
  // The secrets it names, as this shell has them, are redacted from what the CLI prints.
  registerSecretsNamedIn(loaded.spec, process.env);
  return loaded.spec;
}

/**
 * Checks `run --id` by the spec's own id rule (contracts/spec.ts) or exits 2 in the spec errors'
 * format, before any connection: the id names the workflow, its children and its artifacts.
 */
function idOrExit(file: string, id: string): string {
  const r = ExperimentSpec.shape.id.safeParse(id);
  if (r.success) return r.data;
  err(`${file}: invalid experiment spec`);
  for (const p of describeIssues(r.error)) err(`--id: ${p.message}; got ${JSON.stringify(id)}`);
  process.exit(EXIT.invalid);
}

const VERSION = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string }).version;

/** Stage links in summaries: the Web UI page of the run that produced each stage's result. */
const link = (workflowId: string, runId: string) => workflowUrl(workflowId, runId);

const program = new Command()
  .name('bottega')
  .description('Durable experiment pipeline for agentic mid-training of code LLMs, on Temporal.')
  .version(VERSION, '-v, --version', 'print the bottega version')
  .showHelpAfterError();

/** Parses `--force mix,train` (or `all`) into stage names, or exits 2. */
function forcedStages(list: string): StageName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.includes('all')) return [...STAGES];
  const bad = names.filter((n) => !(STAGES as readonly string[]).includes(n));
  if (bad.length || !names.length) {
    err(`--force: expected stage names separated by commas (${STAGES.join(', ')}) or all; got ${JSON.stringify(list)}`);
    process.exit(EXIT.invalid);
  }
  return names as StageName[];
}

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
  .option('--id <id>', 'override the experiment id (the step cache is shared: stages with the same inputs are reused)')
  .option(
    '--force <stages>',
    "rerun these stages even when the step cache has them: comma-separated (mine,mix) or all; adds to the spec's `force`"
  )
  .option(
    '--local-worker',
    'also run a worker for the capabilities the spec needs in this process (a quick try; stops when the run ends); implies --wait'
  )
  .option(
    '--strict',
    `exit ${EXIT.warnings} when the experiment completes with warnings (a stage produced nothing: 0 PRs, a source of only invalid records, 0 validated tasks...); implies --wait`
  )
  .option(
    '--dry-run',
    'validate the spec and print its stage graph (bottega graph) without connecting or starting anything'
  )
  .action(
    async (
      file: string,
      o: {
        wait?: boolean;
        json?: boolean;
        id?: string;
        force?: string;
        localWorker?: boolean;
        strict?: boolean;
        dryRun?: boolean;
      }
    ) => {
      const spec = specOrExit(file);
      if (o.id !== undefined) spec.id = idOrExit(file, o.id);
      if (o.force) spec.force = [...new Set([...spec.force, ...forcedStages(o.force)])];
      if (o.dryRun) {
        const { dryRunText } = await import('./graph');
        const r = dryRunText(spec);
        if (!r.ok) {
          err(`${file}: invalid experiment spec`);
          for (const p of r.problems) err(`${p.path}: ${p.message}`);
          process.exit(EXIT.invalid);
        }
        out(r.text);
        return;
      }
      await withClient(async (client) => {
        let local: import('./local-worker').LocalWorkers | undefined;
        if (o.localWorker) {
          const { startLocalWorkers } = await import('./local-worker');
          local = await startLocalWorkers(Object.keys(neededCapabilities(spec)) as Capability[]);
          err(`local worker (${local.capabilities.join(', ')}) running in this process; its log: ${local.logFile}`);
          process.once('SIGINT', () => {
            err(
              `interrupted: stopping the local worker. Experiment ${spec.id} stays on the server and resumes when a worker polls again (bottega worker --capabilities ${local!.capabilities.join(',')}).`
            );
            void local!.stop().finally(() => process.exit(130));
          });
        }
        try {
          const run = runExperiment(client, spec, {
            wait: !!o.wait || !!o.strict || !!local,
            json: !!o.json,
            out,
            err,
            // Its own workers are starting: nothing to warn about.
            checkWorkers: !local,
          });
          const r = await (local ? Promise.race([run, local.stopped]) : run);
          if (r.result) {
            if (o.json) out(JSON.stringify(r.result, null, 2));
            else out(formatExperimentResult(r.result, { link }));
          }
          // --strict: a completed run whose stages produced nothing somewhere is not a success.
          const strictFail = o.strict && r.result && experimentWarnings(r.result).length > 0;
          process.exitCode = strictFail ? EXIT.warnings : r.code;
        } finally {
          await local?.stop();
        }
      });
    }
  );

program
  .command('retry')
  .description('replay a failed step: reset a closed experiment to just before STAGE (default: the stage that failed)')
  .argument('<id>', 'experiment id')
  .argument('[stage]', 'stage to run again from (needed when the experiment completed)')
  .option('--wait', 'wait for the new run and print a summary')
  .action(async (id: string, stage: string | undefined, o: { wait?: boolean }) => {
    if (
      stage !== undefined &&
      !(STAGES as readonly string[]).includes(stage) &&
      !/^evaluate\.[a-z0-9_-]+$/.test(stage)
    ) {
      err(`stage: expected one of ${STAGES.join(', ')}, or evaluate.<name> for a named evaluation`);
      process.exit(EXIT.invalid);
    }
    const { retryExperiment } = await import('./retry');
    const { watchWorkers } = await import('./worker-check');
    await withClient(async (client) => {
      const p = await retryExperiment(client, id, stage);
      err(`reset ${id} to before its ${p.stage} stage (event ${p.eventId}): new run ${p.runId}`);
      err(`Web UI: ${workflowUrl(id, p.runId)}`);
      // The replayed stage and the ones after it need their workers.
      const again = STAGES.slice(STAGES.indexOf(p.stage.split('.')[0] as (typeof STAGES)[number]));
      const needs = p.spec ? neededCapabilities(p.spec, again) : { cpu: ['workflows'] };
      const watch = watchWorkers(client, () => needs, { err, remind: true });
      await watch.ready;
      let result: ExperimentResult | undefined;
      try {
        if (o.wait) result = (await client.workflow.getHandle(id, p.runId).result()) as ExperimentResult;
      } catch (e) {
        // The same cause and exit code as `run --wait`.
        const failure = experimentFailure(e, id);
        if (!failure) throw e;
        err(failure.message);
        for (const l of await finalStageLines(client.workflow.getHandle(id, p.runId))) err(l);
        process.exitCode = failure.code;
      } finally {
        watch.stop();
      }
      if (result) out(formatExperimentResult(result, { link }));
    });
  });

program
  .command('cancel')
  .description(
    "cancel a running experiment (its running stage, that stage's activities and containers) and wait until it has closed"
  )
  .argument('<id>', 'experiment id')
  .option('--no-wait', 'only request the cancellation; do not wait for the experiment to close')
  .addHelpText(
    'after',
    '\nPrints the final status on stdout. Exit codes: 0 cancelled (with --no-wait: requested), 1 it closed otherwise\n' +
      '(completed, failed, terminated or timed out first), 2 no such experiment, 3 Temporal server unreachable.'
  )
  .action(async (id: string, o: { wait: boolean }) => {
    const { cancelExperiment } = await import('./cancel');
    await withClient(async (client) => {
      process.exitCode = await cancelExperiment(client, id, { wait: o.wait, out, err });
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
  .command('graph')
  .description("print the experiment's DAG: which stage reads what from which (nothing is started)")
  .argument('<spec>', 'spec file (YAML or JSON)')
  .option('--mermaid', 'as a Mermaid flowchart (paste into Markdown, GitHub renders it)')
  .option('--json', 'as JSON: {order, needs, edges}')
  .action(async (file: string, o: import('./graph').GraphFlags) => {
    const { graphCommand } = await import('./graph');
    process.exitCode = graphCommand(file, o, { out, err });
  });

program
  .command('schema')
  .description('print the ExperimentSpec JSON Schema (for the Web UI start form and editors)')
  .action(() => {
    out(JSON.stringify(experimentJsonSchema(), null, 2));
  });

program
  .command('dev')
  .description('manage the local stack: Temporal, S3 (SeaweedFS), Docker, Slurm, sshd (infra/dev.sh)')
  .argument('<action>', Object.keys(DEV_ACTIONS).join(' | '))
  .argument('[services...]', `${Object.keys(DEV_SERVICES).join(' ')} (default: all)`)
  .addHelpText('after', devHelpText())
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
  .description(
    'remove failed-build leftovers and dangling bottega images, then least-recently-used env/instance images until the budget is met (never one in use)'
  )
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
  .command('store')
  .description('the artifact store')
  .command('gc')
  .description(
    'remove what killed writers left in the store (local *.tmp-* files, S3 incomplete uploads); dry run unless --yes'
  )
  .option('--spec <file>', 'the store this spec names (store.uri and its S3 settings)')
  .option('--uri <uri>', 'store root: file:///abs/dir or s3://bucket/prefix (default: $BOTTEGA_HOME/artifacts)')
  .option('--prefix <key>', 'only under this key prefix, e.g. experiments/exp-demo/')
  .option('--older-than <duration>', 'only leftovers last written longer ago than this: 30m, 6h, 2d, or 0', '1h')
  .option('--yes', 'delete them (without it, only list what would be removed)')
  .option('--json', 'print the sweep report as JSON')
  .action(async (o: import('./store').StoreGcFlags & { spec?: string }) => {
    const spec = o.spec ? specOrExit(o.spec) : undefined;
    const { storeGcCommand } = await import('./store');
    process.exitCode = await storeGcCommand(o, spec?.store, { out, err });
  });

program
  .command('build')
  .description("plan the build stage without building: each task's recipe and why, its packages, the wheelhouse")
  .requiredOption('--plan <spec>', 'experiment spec (YAML or JSON) whose build stage to plan')
  .option('--json', 'print the plan as JSON')
  .action(async (o: { plan: string; json?: boolean }) => {
    const { buildPlanCommand } = await import('./build-plan');
    process.exitCode = buildPlanCommand(o.plan, { json: !!o.json }, { out, err });
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

/** Loads a sweep file or exits 2, printing one line per problem (arms included). */
async function sweepOrExit(file: string) {
  const { loadSweepFile } = await import('./sweep');
  const loaded = loadSweepFile(file);
  if (!loaded.ok) {
    err(`${file}: invalid sweep`);
    for (const p of loaded.problems) err(`${p.path}: ${p.message}`);
    process.exit(EXIT.invalid);
  }
  registerSecretsNamedIn(loaded, process.env);
  return loaded;
}

program
  .command('sweep')
  .description('run an ablation sweep: a grid and/or list of arms over a base experiment (see examples/)')
  .argument('<sweep>', 'sweep file (YAML or JSON)')
  .option('--wait', 'follow the sweep and print each arm when it ends (exit 1 if an arm failed)')
  .option('--json', 'print the sweep result as JSON; implies --wait')
  .option('--dry-run', 'validate and list the arms without starting anything')
  .action(async (file: string, o: { wait?: boolean; json?: boolean; dryRun?: boolean }) => {
    const loaded = await sweepOrExit(file);
    if (o.dryRun) {
      const { expandSweep } = await import('../contracts');
      for (const a of expandSweep(loaded.sweep)) out(`${a.id}  ${a.name}  ${JSON.stringify(a.params)}`);
      return;
    }
    const { runSweep } = await import('./sweep');
    await withClient(async (client) => {
      process.exitCode = await runSweep(client, loaded.sweep, { wait: !!o.wait, json: !!o.json, out, err });
    });
  });

const collect = (v: string, prev: string[]) => [...prev, v];
const schedule = program
  .command('schedule')
  .description('run an experiment or a sweep on a schedule (Temporal Schedules)');
schedule
  .command('create')
  .description('create a schedule; each run gets its own id (the spec id plus the scheduled time)')
  .argument('<name>', 'schedule id')
  .option('--spec <file>', 'experiment spec to run')
  .option('--sweep <file>', 'sweep to run')
  .option('--cron <expr>', 'cron expression (repeatable), e.g. "0 3 * * *"', collect, [])
  .option('--every <duration>', 'fixed interval (repeatable), e.g. 12h, 1d', collect, [])
  .option('--timezone <tz>', 'time zone of the cron expressions, e.g. Europe/Rome')
  .option(
    '--overlap <policy>',
    'when a run is still going: skip | buffer_one | buffer_all | cancel_other | terminate_other | allow_all',
    'skip'
  )
  .option('--paused', 'create it paused')
  .option('--note <text>', 'note shown with the schedule')
  .action(
    async (
      name: string,
      o: {
        spec?: string;
        sweep?: string;
        cron: string[];
        every: string[];
        timezone?: string;
        overlap: string;
        paused?: boolean;
        note?: string;
      }
    ) => {
      const { createSchedule, OVERLAP } = await import('./schedule');
      if (!!o.spec === !!o.sweep) {
        err('schedule create: give exactly one of --spec FILE or --sweep FILE');
        process.exit(EXIT.invalid);
      }
      if (!(OVERLAP as readonly string[]).includes(o.overlap)) {
        err(`--overlap: expected one of ${OVERLAP.join(', ')}`);
        process.exit(EXIT.invalid);
      }
      const action = o.spec
        ? { kind: 'experiment' as const, spec: specOrExit(o.spec) }
        : { kind: 'sweep' as const, sweep: (await sweepOrExit(o.sweep!)).sweep };
      await withClient(async (client) => {
        await createSchedule(client, {
          scheduleId: name,
          action,
          timing: { cron: o.cron, every: o.every, ...(o.timezone ? { timezone: o.timezone } : {}) },
          overlap: o.overlap as import('./schedule').OverlapName,
          paused: !!o.paused,
          ...(o.note ? { note: o.note } : {}),
        });
        out(`created schedule ${name}`);
      });
    }
  );
schedule
  .command('list')
  .description('list schedules with their next and last runs')
  .option('--json', 'as JSON')
  .action(async (o: { json?: boolean }) => {
    const { listSchedules, formatSchedules } = await import('./schedule');
    await withClient(async (client) => {
      const rows = await listSchedules(client);
      out(o.json ? JSON.stringify(rows, null, 2) : formatSchedules(rows));
    });
  });
for (const [verb, what] of [
  ['pause', 'pause a schedule'],
  ['unpause', 'resume a paused schedule'],
  ['trigger', 'start a run now'],
  ['delete', 'delete a schedule (its runs are kept)'],
] as const) {
  schedule
    .command(verb)
    .description(what)
    .argument('<name>', 'schedule id')
    .option('--note <text>', 'note (pause/unpause)')
    .action(async (name: string, o: { note?: string }) => {
      const { scheduleAction } = await import('./schedule');
      await withClient(async (client) => {
        await scheduleAction(
          client,
          name,
          verb === 'pause' || verb === 'unpause' ? { type: verb, ...(o.note ? { note: o.note } : {}) } : { type: verb }
        );
        out(`${verb}: ${name}`);
      });
    });
}
schedule
  .command('backfill')
  .description('run the schedule for the times it would have run between --from and --to')
  .argument('<name>', 'schedule id')
  .requiredOption('--from <time>', 'start, ISO 8601 (e.g. 2026-11-01T00:00:00Z)')
  .requiredOption('--to <time>', 'end, ISO 8601')
  .option('--overlap <policy>', 'overlap policy for the backfilled runs', 'allow_all')
  .action(async (name: string, o: { from: string; to: string; overlap: string }) => {
    const start = new Date(o.from);
    const end = new Date(o.to);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
      err('--from/--to: expected ISO 8601 times like 2026-11-01T00:00:00Z');
      process.exit(EXIT.invalid);
    }
    const { scheduleAction } = await import('./schedule');
    await withClient(async (client) => {
      await scheduleAction(client, name, {
        type: 'backfill',
        start,
        end,
        overlap: o.overlap as import('./schedule').OverlapName,
      });
      out(`backfill requested: ${name} from ${start.toISOString()} to ${end.toISOString()}`);
    });
  });

program
  .command('report')
  .description('write an HTML (inline SVG plots) and Markdown report of a finished experiment or sweep')
  .argument('<id>', 'experiment or sweep workflow id')
  .option('-o, --out <dir>', 'output directory', 'reports')
  .option('--format <format>', 'html | md | both', 'both')
  .action(async (id: string, o: { out: string; format: 'html' | 'md' | 'both' }) => {
    if (!['html', 'md', 'both'].includes(o.format)) {
      err('--format: expected html, md or both');
      process.exit(EXIT.invalid);
    }
    const { reportCommand } = await import('./report');
    await withClient(async (client) => {
      process.exitCode = await reportCommand(client, id, { out: o.out, format: o.format }, { out, err });
    });
  });

program
  .command('ls')
  .description('list experiments and sweeps (never stage children), filtered by search attributes')
  .option('--type <type>', 'experiment | sweep | all', 'all')
  .option('--id <id>', 'ExperimentId')
  .option('--sweep <id>', 'SweepId')
  .option('--status <status>', 'running | completed | failed | canceled | terminated | timed_out | continued_as_new')
  .option('--base-model <name>', 'BaseModel')
  .option('--dataset-version <v>', 'DatasetVersion')
  .option('--min-score <x>', 'EvalScore >= x', Number)
  .option('--query <raw>', 'raw visibility query, ANDed with the filters')
  .option('--limit <n>', 'at most this many rows', Number, 50)
  .option('--json', 'as JSON')
  .action(async (o: import('./ls').ListFilters & { json?: boolean }) => {
    const { lsCommand } = await import('./ls');
    await withClient(async (client) => {
      process.exitCode = await lsCommand(client, o, { out, err });
    });
  });

program
  .command('logs')
  .description(
    "a stage's timeline (workflow history) and its worker log lines ($BOTTEGA_HOME/logs on the worker's host)"
  )
  .argument('<id>', 'experiment id')
  .argument('<stage>', 'mine | build | rollout | mix | train | evaluate')
  .option('--follow', 'poll every 2 s until the stage workflow closes')
  .option('--json', 'as JSON (JSON lines with --follow)')
  .option('--level <level>', 'minimum level: trace | debug | info | warn | error')
  .option('--home <dir>', 'where the log files are (default $BOTTEGA_HOME or .bottega)')
  .action(async (id: string, stage: string, o: { follow?: boolean; json?: boolean; level?: string; home?: string }) => {
    const { logsCommand } = await import('./logs');
    await withClient(async (client) => {
      process.exitCode = await logsCommand(client, { id, stage, ...o }, { out, err });
    });
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
