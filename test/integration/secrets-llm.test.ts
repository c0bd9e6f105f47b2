import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RolloutStageResult, Trajectory, type ExperimentResult } from '../../contracts';
import { makeBuildFixtures, writeTasksFile } from '../../infra/fixtures/make-build-repos';
import { stageLogPath } from '../../activities/log-files';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm';
import { experimentHistories, runCli, spawnLoggedWorker, textUnder, type LoggedWorker } from '../helpers/leak-check';
import { startTemporal } from '../helpers/temporal';

const probe = await dockerOrSkip('temporal');

/**
 * An OpenAI-compatible server that echoes the API key: every chat request is answered 401 with a
 * body quoting the `Authorization` header (as OpenAI's "Incorrect API key provided: ..." does).
 * build → rollout with the `openai` policy through the real CLI, the real Temporal dev server and a
 * real worker process (cpu, docker) holding the key. The rollout ends `model_error` and its
 * trajectory keeps the server's answer, redacted: the key appears nowhere in the trajectories, the
 * workflow histories, the worker's output, the stage log files or the CLI's output.
 */
const KEY_ENV = 'BOTTEGA_IT_ECHO_LLM_KEY';
const KEY = 'sk-echoedLlmKey-0123456789abcdef';
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-it-secrets-llm-'));
let env: TestWorkflowEnvironment;
let llm: FakeLlm;
let worker: LoggedWorker | undefined;

describe(
  'secrets echoed by an LLM server are redacted everywhere',
  { skip: 'skip' in probe ? probe.skip : false },
  () => {
    before(async () => {
      if ('skip' in probe) return;
      llm = await startFakeLlm({
        script: (req) => ({
          kind: 'status',
          status: 401,
          body: JSON.stringify({
            error: { message: `Incorrect API key provided: ${req.headers.authorization}`, code: 'invalid_api_key' },
          }),
        }),
      });
      env = await startTemporal();
      // The shared home: its base-image cache and wheelhouse spare a cold build.
      worker = spawnLoggedWorker(env.address, {
        home: BOTTEGA_HOME,
        capabilities: 'cpu,docker',
        env: { [KEY_ENV]: KEY },
      });
    });
    after(async () => {
      await worker?.stop();
      await env?.teardown();
      await llm?.close();
    });

    it('a 401 quoting the key ends the rollout model_error, its trajectory redacted, and leaks nowhere', async () => {
      const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
      const tasksFile = join(tmp, 'tasks.jsonl');
      writeTasksFile(tasksFile, fx.tasks, ['acme__units-1']);
      const id = 'exp-it-secrets-llm';
      const spec = join(tmp, `${id}.json`);
      writeFileSync(
        spec,
        JSON.stringify({
          id,
          store: { uri: `file://${join(tmp, 'artifacts')}` },
          build: fixtureBuild(tasksFile, fx.repos, BOTTEGA_HOME),
          rollout: {
            policy: 'openai',
            endpoint: llm.url,
            model: 'fake-model',
            api_key_env: KEY_ENV,
            rollouts_per_task: 1,
            concurrency: 1,
          },
        })
      );
      const cliEnv: NodeJS.ProcessEnv = {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_NAMESPACE: 'default',
        BOTTEGA_HOME: join(tmp, 'cli'),
      };
      delete cliEnv[KEY_ENV];
      const cli = await worker!.whileRunning(runCli(['run', spec, '--json'], cliEnv));
      assert.equal(cli.code, 0, cli.output);

      // The key was sent and echoed back; the rollout ended on it.
      assert.ok(llm.chatRequests.length > 0);
      assert.ok(llm.chatRequests.every((q) => q.headers.authorization === `Bearer ${KEY}`));
      const result = (await env.client.workflow.getHandle(id).result()) as ExperimentResult;
      const rollout = RolloutStageResult.parse(result.stages.rollout!.result);
      assert.deepEqual(rollout.summary.exits, { model_error: 1 });
      const [t] = readFileSync(fileURLToPath(rollout.artifacts.fail.uri), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => Trajectory.parse(JSON.parse(l)));
      assert.equal(t!.exit_reason, 'model_error');

      const histories = await experimentHistories(env.client, id, 3);
      const places: Record<string, string> = {
        artifacts: textUnder(join(tmp, 'artifacts')),
        'workflow histories': histories.text,
        'worker output': worker!.output(),
        'stage logs': ['build', 'rollout'].map((s) => textUnder(stageLogPath(BOTTEGA_HOME, id, s))).join(''),
        'CLI output': cli.output,
      };
      const leaks = Object.keys(places).filter((where) => places[where]!.includes(KEY));
      assert.deepEqual(leaks, [], `the key leaked into: ${leaks.join(', ')}`);
      // Not vacuous: the trajectory keeps the server's answer, redacted.
      assert.match(
        t!.exit_detail ?? '',
        new RegExp(`HTTP 401: .*Incorrect API key provided: Bearer \\[redacted:${KEY_ENV}\\]`)
      );
    });
  }
);
