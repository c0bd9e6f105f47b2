import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { buildEnvImage, buildInstanceImage, ensureBaseImage } from '../../activities/build/docker';
import { resolveRecipe } from '../../activities/build/recipe';
import {
  ROLLOUT_TOOLS,
  startContainerRuntime,
  sweepRolloutContainers,
  ToolEnvError,
  type AgentToolResult,
  type ToolRuntime,
} from '../../activities/rollout/tools';
import { makeBuildFixtures } from '../../infra/fixtures/make-build-repos';
import { dockerOrSkip, testWheelhouse } from '../helpers/docker';

/**
 * The rollout agent's tool runtime on the real Docker engine, in the instance image of the
 * fixture task acme__calc-1 (built with the build stage's code; cached after the first run).
 */
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const LIMITS = { cpus: 1, memoryMb: 256, pids: 64 };
const probe = await dockerOrSkip();
const docker = probe.docker as Docker;

let tmp: string;
let image: string;
let repoPath: string;
let baseCommit: string;
let rt: ToolRuntime;
const testLabel = { 'bottega.test': `rollout-tools-${process.pid}` };
let n = 0;

const call = (name: string, args: Record<string, unknown> = {}): Promise<AgentToolResult> =>
  rt.call({ id: `call_${++n}`, name, arguments: args });
const bash = (command: string) => call('bash', { command });
const edit = (args: Record<string, unknown>) => call('str_replace_editor', args);

async function start(): Promise<ToolRuntime> {
  return startContainerRuntime(docker, {
    image,
    limits: LIMITS,
    network: false,
    commandTimeoutMs: 4000,
    maxOutputChars: 2000,
    workdir: '/testbed',
    labels: testLabel,
  });
}

async function ourContainers(): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`bottega.test=${testLabel['bottega.test']}`] },
  });
  return list.map((c) => c.Id);
}

describe('rollout tools: container runtime', { skip: probe.skip ?? false }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bottega-rollout-tools-'));
    const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
    const task = fx.tasks.find((t) => t.instance_id === 'acme__calc-1')!;
    repoPath = fx.repos.find((r) => r.repo === task.repo)!.path;
    baseCommit = task.base_commit;
    const recipe = resolveRecipe({ task });
    assert.ok(recipe.config, 'the fixture task carries its install_config');
    const baseTag = await ensureBaseImage(docker, recipe.config.python, { bottegaHome: BOTTEGA_HOME });
    const env = await buildEnvImage(docker, {
      baseTag,
      repo: task.repo,
      repoPath,
      envCommit: task.base_commit,
      config: recipe.config,
      wheelhouse: testWheelhouse(BOTTEGA_HOME),
      network: false,
      timeoutMs: 600_000,
    });
    const inst = await buildInstanceImage(docker, {
      envTag: env.tag,
      repo: task.repo,
      repoPath,
      baseCommit: task.base_commit,
      instanceId: task.instance_id,
      envCommit: task.base_commit,
    });
    image = inst.tag;
    rt = await start();
  });

  after(async () => {
    await rt?.close();
    for (const id of await ourContainers().catch(() => [])) {
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => {});
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('exposes SWE-agent tool definitions', () => {
    assert.deepEqual(
      rt.tools.map((t) => t.function.name),
      ['bash', 'str_replace_editor', 'submit']
    );
    assert.equal(rt.tools, ROLLOUT_TOOLS);
  });

  it('runs bash in /testbed with the venv on PATH and reports exit codes', async () => {
    const ok = await bash('pwd; git rev-parse HEAD; python3 -c "import pytest; print(\'pytest ok\')"');
    assert.equal(ok.exitCode, 0, ok.output);
    assert.match(ok.output, /^\/testbed\n/);
    assert.ok(ok.output.includes(baseCommit));
    assert.match(ok.output, /pytest ok/);
    assert.equal(ok.timedOut, false);
    const fail = await bash('echo to-stderr >&2; exit 3');
    assert.equal(fail.exitCode, 3);
    assert.match(fail.output, /to-stderr/);
  });

  it('times out a long command and says so', async () => {
    const r = await bash('sleep 30');
    assert.equal(r.timedOut, true);
    assert.ok(r.durationMs < 15_000, `took ${r.durationMs} ms`);
    assert.match(r.output, /took too long/);
    assert.equal((await bash('echo alive')).output.trim(), 'alive');
  });

  it('truncates long output in the middle with a marker', async () => {
    const r = await bash('echo HEAD-LINE; seq 1 100000; echo TAIL-LINE');
    assert.equal(r.exitCode, 0);
    assert.ok(r.output.length < 2600, `output has ${r.output.length} chars`);
    assert.match(r.output, /^HEAD-LINE\n/);
    assert.match(r.output, /TAIL-LINE\n$/);
    assert.match(r.output, /<response clipped>.*\d+ characters were elided/);
  });

  it('str_replace_editor: view, create, str_replace, insert, undo_edit', async () => {
    const dir = await edit({ command: 'view', path: '/testbed' });
    assert.equal(dir.exitCode, 0, dir.output);
    assert.match(dir.output, /\/testbed\/calc\/ops\.py/);
    assert.doesNotMatch(dir.output, /\/testbed\/\.git/);

    const view = await edit({ command: 'view', path: '/testbed/calc/ops.py' });
    assert.match(view.output, /cat -n/);
    assert.match(view.output, /\n {5}4\tdef add\(a, b\):\n {5}5\t {4}return a - b\n/);
    const range = await edit({ command: 'view', path: '/testbed/calc/ops.py', view_range: [4, 5] });
    assert.match(range.output, / {5}4\tdef add/);
    assert.doesNotMatch(range.output, /def sub/);
    const rel = await edit({ command: 'view', path: 'calc/ops.py' });
    assert.equal(rel.exitCode, 1);
    assert.match(rel.output, /not an absolute path/);

    const content = 'tricky: \'quotes\' "double" $HOME `tick` \\ back\n\ttab\nünïcødé ✓\n';
    const created = await edit({ command: 'create', path: '/testbed/notes/new.txt', file_text: content });
    assert.equal(created.exitCode, 0, created.output);
    assert.equal((await bash('cat /testbed/notes/new.txt')).output, content);
    const again = await edit({ command: 'create', path: '/testbed/notes/new.txt', file_text: 'x' });
    assert.equal(again.exitCode, 1);
    assert.match(again.output, /already exists/);

    const none = await edit({ command: 'str_replace', path: '/testbed/calc/ops.py', old_str: 'nope', new_str: 'x' });
    assert.equal(none.exitCode, 1);
    assert.match(none.output, /did not appear verbatim/);
    const two = await edit({
      command: 'str_replace',
      path: '/testbed/calc/ops.py',
      old_str: 'return a - b',
      new_str: 'x',
    });
    assert.equal(two.exitCode, 1);
    assert.match(two.output, /Multiple occurrences .* in lines \[5,9\]/);
    const fixed = await edit({
      command: 'str_replace',
      path: '/testbed/calc/ops.py',
      old_str: 'def add(a, b):\n    return a - b',
      new_str: 'def add(a, b):\n    return a + b',
    });
    assert.equal(fixed.exitCode, 0, fixed.output);
    assert.match(fixed.output, / {5}5\t {4}return a \+ b/);

    const ins = await edit({ command: 'insert', path: '/testbed/calc/ops.py', insert_line: 0, new_str: '# header' });
    assert.equal(ins.exitCode, 0, ins.output);
    assert.equal((await bash('head -1 calc/ops.py')).output, '# header\n');
    const bad = await edit({ command: 'insert', path: '/testbed/calc/ops.py', insert_line: 999, new_str: 'x' });
    assert.match(bad.output, /Invalid `insert_line`/);

    const undo = await edit({ command: 'undo_edit', path: '/testbed/calc/ops.py' });
    assert.equal(undo.exitCode, 0, undo.output);
    assert.equal((await bash('head -1 calc/ops.py')).output, '"""Arithmetic helpers."""\n');
    assert.match((await bash('grep -c "return a + b" calc/ops.py')).output, /^1\n/);
    const noHist = await edit({ command: 'undo_edit', path: '/testbed/calc/__init__.py' });
    assert.match(noHist.output, /No edit history found/);

    // Large content round-trips (several exec chunks).
    const big = Array.from({ length: 30_000 }, (_, i) => `line ${i} ✓`).join('\n');
    await edit({ command: 'create', path: '/tmp/big.txt', file_text: big });
    assert.equal((await bash('sha256sum /tmp/big.txt | cut -c1-64')).output.trim(), sha256(big));
  });

  it('has no network', async () => {
    const r = await bash(
      'python3 -c "import socket; socket.create_connection((\'1.1.1.1\', 80), timeout=3)" && echo CONNECTED'
    );
    assert.notEqual(r.exitCode, 0);
    assert.doesNotMatch(r.output, /CONNECTED/);
    assert.match((await bash('ls /sys/class/net')).output.trim(), /^lo$/);
    assert.equal((await bash('test -S /var/run/docker.sock && echo yes || echo no')).output.trim(), 'no');
  });

  it('survives a fork bomb and a memory hog', async () => {
    // The bomb's first call returns at once (exit 0); its descendants hit the pids limit until the
    // runtime kills the call's process group.
    const bomb = await bash(':(){ :|:& };:; sleep 2');
    assert.ok(bomb.durationMs < 30_000);
    assert.equal((await bash('ls /proc | grep -c "^[0-9]"')).exitCode, 0);
    const procs = Number((await bash('ls -d /proc/[0-9]* | wc -l')).output.trim());
    assert.ok(procs < 10, `${procs} processes left`);
    const hog = await bash('python3 -c "x=\' \'*10**10"');
    assert.notEqual(hog.exitCode, 0, hog.output);
    assert.match(hog.output, /MemoryError|exit 137/);
    const next = await bash('echo still-here');
    assert.equal(next.exitCode, 0, next.output);
    assert.equal(next.output.trim(), 'still-here');
  });

  it('submit returns a patch that applies at base_commit', async () => {
    const r = await call('submit');
    assert.equal(r.exitCode, 0);
    const patch = r.submitted?.patch ?? '';
    assert.match(patch, /^diff --git a\/calc\/ops\.py/m);
    assert.match(patch, /\+ {4}return a \+ b/);
    assert.match(patch, /^diff --git a\/notes\/new\.txt/m);
    assert.match(patch, /ünïcødé ✓/);
    // The index was reset: the new file is untracked again.
    assert.match((await bash('git status --porcelain')).output, /^\?\? notes\//m);
    const checkout = join(tmp, 'checkout');
    execFileSync('git', ['clone', '-q', repoPath, checkout]);
    execFileSync('git', ['-C', checkout, 'checkout', '-q', baseCommit]);
    writeFileSync(join(tmp, 'agent.patch'), patch);
    execFileSync('git', ['-C', checkout, 'apply', '--check', join(tmp, 'agent.patch')]);
  });

  it('close removes the container; later calls fail cleanly', async () => {
    const other = await start();
    assert.equal((await ourContainers()).length, 2);
    await other.close();
    await other.close(); // idempotent
    assert.equal((await ourContainers()).length, 1);
    await assert.rejects(other.call({ id: 'x', name: 'bash', arguments: { command: 'true' } }), ToolEnvError);
  });

  it('reports a dead container as ToolEnvError', async () => {
    const other = await start();
    const all = await ourContainers();
    // Kill the newest (ours just started) behind the runtime's back.
    const info = await Promise.all(all.map((c) => docker.getContainer(c).inspect()));
    const newest = info.sort((a, b) => b.Created.localeCompare(a.Created))[0]!;
    await docker.getContainer(newest.Id).kill();
    await assert.rejects(other.call({ id: 'y', name: 'bash', arguments: { command: 'true' } }), ToolEnvError);
    await other.close();
  });

  it('sweepRolloutContainers removes leftovers', async () => {
    await start(); // a runtime "lost" in a crash: never closed
    const before = await ourContainers();
    assert.equal(before.length, 2);
    const recent = await sweepRolloutContainers(docker, 3_600_000, testLabel);
    assert.ok(!recent.some((id) => before.includes(id)), 'a young container is kept');
    await new Promise((r) => setTimeout(r, 1100));
    const removed = await sweepRolloutContainers(docker, 0, testLabel);
    for (const id of before) assert.ok(removed.includes(id));
    assert.deepEqual(await ourContainers(), []);
    // The main runtime's container was swept too: its calls now fail as an env error.
    await assert.rejects(bash('true'), ToolEnvError);
  });
});

function sha256(text: string): string {
  return execFileSync('sha256sum', { input: text }).toString().slice(0, 64);
}
