import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startEchoAuthServer, type EchoAuthServer } from '../helpers/echo-auth-server';
import { experimentHistories, runCli, spawnLoggedWorker, textUnder, type LoggedWorker } from '../helpers/leak-check';
import { prerequisites } from '../helpers/prereq';
import { startTemporal } from '../helpers/temporal';

const skip = await prerequisites('temporal');

/**
 * A GitHub API that echoes the token: every request is answered 401 with a body quoting the
 * `Authorization` header. The mine stage runs through the real CLI (its own process, without the
 * token in its environment, as on a laptop), the real Temporal dev server and a real worker
 * process holding the token. The token value appears nowhere: not in the three workflow histories
 * (experiment, mine stage, repository), not in the worker's output (pino lines and the SDK's
 * "Activity failed" lines), not in the CLI's output, not in artifacts or stage log files; where the
 * server's text is kept, it reads `[redacted:<ENV_NAME>]`.
 */
const TOKEN_ENV = 'BOTTEGA_IT_ECHO_GH_TOKEN';
const TOKEN = 'ghp_echoedSecret0123456789abcdefXYZ';
const home = mkdtempSync(join(tmpdir(), 'bottega-it-secrets-gh-'));
let env: TestWorkflowEnvironment;
let echo: EchoAuthServer;
let worker: LoggedWorker | undefined;

describe('secrets echoed by the GitHub API are redacted everywhere', { skip: skip ?? false }, () => {
  before(async () => {
    env = await startTemporal();
    echo = await startEchoAuthServer();
    worker = spawnLoggedWorker(env.address, {
      home: join(home, 'worker'),
      capabilities: 'cpu',
      env: { [TOKEN_ENV]: TOKEN },
    });
  });
  after(async () => {
    await worker?.stop();
    await echo?.close();
    await env?.teardown();
  });

  it('a 401 quoting the token fails the mine stage with [redacted:ENV] in histories, logs, CLI output and artifacts', async () => {
    const id = 'exp-it-secrets-github';
    const spec = join(home, `${id}.json`);
    writeFileSync(
      spec,
      JSON.stringify({
        id,
        store: { uri: `file://${join(home, 'artifacts')}` },
        mine: { sources: [{ type: 'github', repo: 'acme/widgets', api_url: echo.url, token_env: TOKEN_ENV }] },
      })
    );
    const cliEnv: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      BOTTEGA_HOME: join(home, 'cli'),
    };
    delete cliEnv[TOKEN_ENV];
    const cli = await worker!.whileRunning(runCli(['run', spec, '--wait'], cliEnv));

    // The token was sent and echoed back.
    assert.ok(echo.authorizations.includes(`token ${TOKEN}`), JSON.stringify(echo.authorizations));
    assert.equal(cli.code, 1, cli.output);
    const histories = await experimentHistories(env.client, id, 2);
    assert.ok(histories.ids.length >= 3, `histories read: ${histories.ids.join(', ')}`);
    const workerOut = worker!.output();
    const places: Record<string, string> = {
      'workflow histories': histories.text,
      'worker output': workerOut,
      'CLI output': cli.output,
      'artifacts and stage logs': textUnder(home),
    };
    const leaks = Object.keys(places).filter((where) => places[where]!.includes(TOKEN));
    assert.deepEqual(leaks, [], `the token leaked into: ${leaks.join(', ')}`);

    // Not vacuous: the server's text reached each place, redacted.
    const mark = `[redacted:${TOKEN_ENV}]`;
    assert.match(cli.output, new RegExp(`experiment ${id} failed: .*\\[redacted:${TOKEN_ENV}\\]`), cli.output);
    assert.ok(histories.text.includes(mark), 'the server text is kept in the histories, redacted');
    assert.match(workerOut, /Activity failed/);
    assert.ok(workerOut.includes(mark), workerOut.slice(-4000));
  });

  it('the CLI redacts the secrets its spec names, as its own environment has them, from all it prints', async () => {
    // A failure recorded by something other than a bottega worker: a termination reason quoting the token.
    const id = 'exp-it-secrets-cli';
    const spec = join(home, `${id}.json`);
    writeFileSync(
      spec,
      JSON.stringify({
        id,
        store: { uri: `file://${join(home, 'artifacts-cli')}` },
        mine: { sources: [{ type: 'github', repo: 'acme/gadgets', api_url: echo.url, token_env: TOKEN_ENV }] },
      })
    );
    const cliEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      BOTTEGA_HOME: join(home, 'cli'),
      [TOKEN_ENV]: TOKEN,
    };
    const running = worker!.whileRunning(runCli(['run', spec, '--wait'], cliEnv));
    const handle = env.client.workflow.getHandle(id);
    for (let i = 0; ; i++) {
      const started = await handle.describe().then(
        () => true,
        () => false
      );
      if (started) break;
      if (i > 100) throw new Error(`experiment ${id} never started`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await handle.terminate(`operator: retry with token ${TOKEN}`);
    const cli = await running;
    assert.equal(cli.code, 1, cli.output);
    assert.ok(!cli.output.includes(TOKEN), `the token is in the CLI output:\n${cli.output}`);
    assert.match(
      cli.output,
      new RegExp(`experiment ${id} failed: operator: retry with token \\[redacted:${TOKEN_ENV}\\]`)
    );
  });
});
