import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  MineStageResult,
  MixManifest,
  MixStageResult,
  TASK_QUEUES,
  type ExperimentResult,
  type ExperimentSpecInput,
} from '../../contracts';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { freePort, startTemporal } from '../helpers/temporal';
import { runWorkers } from '../helpers/stack';

/**
 * The runbook's "Start from the Web UI", done by a real browser: headless Debian Chromium driven by
 * playwright-core fills the Temporal Web UI's Start Workflow form with examples/quickstart.json
 * (mine → mix; fixture paths rewritten to this run's fixtures), an in-process cpu worker runs it,
 * and the completed workflow's page shows its stage children. Screenshots go to test-artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = 'examples/quickstart.json';
const FIXTURES_PREFIX = '.bottega/fixtures/';
const ARTIFACTS = resolve('test-artifacts');

let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let browser: Browser | undefined;
let ui: string;
const home = mkdtempSync(join(tmpdir(), 'bottega-it-webui-'));
const fixtures = join(home, 'fixtures');
const workflowId = `exp-webui-${Date.now().toString(36)}`;

/** Installs chromium when missing (infra/services/browser.sh); fails with the script's output. */
function ensureChromium(): void {
  try {
    execFileSync('bash', ['infra/services/browser.sh'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`chromium could not be installed by infra/services/browser.sh:\n${stdout ?? ''}${stderr ?? ''}`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`chromium could not be installed: ${CHROMIUM} is missing`);
}

/** The example spec with its relative fixture paths pointed at this run's fixtures (every one of them). */
function exampleSpec(): ExperimentSpecInput {
  const spec = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as ExperimentSpecInput;
  assert.equal(spec.build, undefined, `${EXAMPLE} must not need a docker worker`);
  assert.equal(spec.train, undefined, `${EXAMPLE} must not need Slurm`);
  const rewrite = (p: string): string => {
    assert.ok(p.startsWith(FIXTURES_PREFIX), `${EXAMPLE}: ${p} is not under ${FIXTURES_PREFIX}`);
    return join(fixtures, p.slice(FIXTURES_PREFIX.length));
  };
  const sources = (spec.mine?.sources ?? []).map((s) => {
    assert.equal(s.type, 'git', `${EXAMPLE}: only git sources run offline`);
    const src = s as { path: string; issues_file?: string };
    return { ...s, path: rewrite(src.path), ...(src.issues_file ? { issues_file: rewrite(src.issues_file) } : {}) };
  });
  assert.ok(sources.length > 0, `${EXAMPLE} mines no source`);
  return { ...spec, mine: { ...spec.mine!, sources } };
}

/** Saves a full-page screenshot under test-artifacts/ and logs its path. */
async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `web-ui-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

/** Runs a UI step; a failure names the step, the page URL and the UI's toasts, and leaves a screenshot. */
async function step<T>(page: Page, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const shot = await screenshot(page, 'failure').catch(() => '(no screenshot)');
    const toasts = await page
      .locator('[data-testid^="toast-live-region"]')
      .allInnerTexts()
      .catch(() => []);
    const said = toasts.join(' ').trim();
    throw new Error(
      `Web UI: could not ${what} at ${page.url()} (${shot})${said ? `; the UI said: ${said}` : ''}: ${(e as Error).message}`
    );
  }
}

describe('Web UI: start an experiment from the Start Workflow form (headless Chromium, real Temporal UI)', () => {
  before(async () => {
    ensureChromium();
    const uiPort = await freePort();
    env = await startTemporal({ uiPort });
    ui = `http://127.0.0.1:${uiPort}`;
    await makeFixtureRepos(fixtures);
    workers = await runWorkers(env, home, ['cpu']);
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    } catch (e) {
      throw new Error(`chromium (${CHROMIUM}) could not be launched: ${(e as Error).message}`);
    }
  });
  after(async () => {
    await browser?.close();
    await workers?.stop();
    await env?.teardown();
  });

  it('fills and submits the form with the example JSON, and the experiment completes mine → mix', async () => {
    const spec = exampleSpec();
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(30_000);

    await step(page, 'open the Start Workflow form', async () => {
      await page.goto(`${ui}/namespaces/default/workflows/start-workflow`);
      await page.locator('#workflowId').waitFor();
    });
    await step(page, 'fill the Start Workflow form', async () => {
      await page.locator('#workflowId').fill(workflowId);
      await page.locator('#taskQueue').fill(TASK_QUEUES.cpu);
      await page.locator('#workflowType').fill('experimentWorkflow');
      await page.locator('input[name="encoding"][id="json/plain"]').check({ force: true });
      const editor = page.locator('[aria-label="Data"] .cm-content, [aria-label="Data"][contenteditable]').first();
      await editor.click();
      await page.keyboard.insertText(JSON.stringify(spec, null, 2));
    });
    await screenshot(page, 'form');
    const started = await step(page, 'submit the Start Workflow form', async () => {
      const start = page.getByTestId('start-workflow-button');
      if (!(await start.isEnabled()))
        throw new Error('the Start Workflow button is disabled (the form rejected the input)');
      await start.click();
      // The UI stays on the form and confirms with a toast linking to the run (or toasts the error).
      const link = page.getByRole('link', { name: 'Workflow started successfully' });
      await link.waitFor();
      return link.getAttribute('href');
    });
    await screenshot(page, 'started');

    // The run the form started: the right type and queue, and it completes.
    const handle = env.client.workflow.getHandle(workflowId);
    const desc = await handle.describe();
    assert.equal(desc.type, 'experimentWorkflow');
    assert.equal(desc.taskQueue, TASK_QUEUES.cpu);
    const history = await handle.fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.ok(payload?.data, 'the started workflow has an input');
    assert.deepEqual(JSON.parse(Buffer.from(payload.data).toString('utf8')), spec, 'the input is the pasted JSON');
    const r = (await handle.result()) as ExperimentResult;
    assert.equal(r.experimentId, workflowId, 'started under another id, the experiment takes the workflow id');
    assert.equal(r.stages.mine?.status, 'ran');
    assert.equal(r.stages.mix?.status, 'ran');
    const mine = MineStageResult.parse(r.stages.mine!.result);
    const mix = MixStageResult.parse(r.stages.mix!.result);
    assert.ok(mine.summary.prs_kept > 0, 'the mine stage kept PRs from the fixture repositories');
    const stages = spec.mix!.stages.map((s) => s.name);
    assert.deepEqual(Object.keys(mix.artifacts.manifests).sort(), [...stages].sort());
    for (const ref of Object.values(mix.artifacts.manifests)) {
      const m = MixManifest.parse(JSON.parse(readFileSync(fileURLToPath(ref.uri), 'utf8')));
      assert.ok(m.sequences > 0 && m.shards.length > 0, `${ref.uri}: packed shards`);
    }

    // The workflow's page in the UI (the toast's link): Completed, with the stage children on the
    // timeline and under Relationships.
    assert.ok(started?.includes(`/workflows/${workflowId}/`), `the toast links to the workflow: ${started}`);
    await step(page, 'show the completed workflow', async () => {
      await page.goto(`${ui}${started}`);
      await page.getByText('Completed', { exact: true }).first().waitFor();
      for (const stage of ['mine', 'mix']) await page.getByText(`${stage} stage of ${workflowId}`).first().waitFor();
    });
    await screenshot(page, 'completed');
    await step(page, 'list the stage children under Relationships', async () => {
      await page.getByRole('tab', { name: /Relationships/ }).click();
      for (const stage of ['mine', 'mix']) {
        await page.getByText(`${workflowId}/${stage}`, { exact: true }).first().waitFor();
      }
    });
    await screenshot(page, 'children');
  });
});
