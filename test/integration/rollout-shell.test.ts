import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import type Docker from 'dockerode';
import { ensureBaseImage } from '../../activities/build/docker';
import { filesArchive } from '../../activities/build/docker/put-files';
import { startContainerRuntime, ToolEnvError, type ToolRuntime } from '../../activities/rollout/tools';
import { rawExec } from '../../bench/timing';
import { dockerOrSkip } from '../helpers/docker';

/**
 * The rollout runtime's persistent shell (activities/rollout/tools/shell-server.ts) on the real
 * Docker engine, in the python base image (bash + coreutils; no repository needed): tool calls go
 * over the attach stream, never through `docker exec`, and the channel survives what agents do to it.
 */
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const LIMITS = { cpus: 1, memoryMb: 256, pids: 64 };
const probe = await dockerOrSkip();
const docker = probe.docker as Docker;
const testLabel = { 'bottega.test': `rollout-shell-${process.pid}` };

let image: string;
const open: ToolRuntime[] = [];
let n = 0;

async function start(extra: { signal?: AbortSignal; commandTimeoutMs?: number } = {}): Promise<ToolRuntime> {
  const rt = await startContainerRuntime(docker, {
    image,
    limits: LIMITS,
    network: false,
    commandTimeoutMs: extra.commandTimeoutMs ?? 4000,
    maxOutputChars: 2000,
    workdir: '/testbed',
    labels: testLabel,
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
  open.push(rt);
  return rt;
}

const bash = (rt: ToolRuntime, command: string) => rt.call({ id: `c${++n}`, name: 'bash', arguments: { command } });

async function ourContainers(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`bottega.test=${testLabel['bottega.test']}`] } });
}

/** The `exec_create` events of container `id` from `since` (unix seconds) until now. */
async function execEvents(id: string, since: number): Promise<string[]> {
  const stream = (await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { container: [id], type: ['container'] },
  })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { Action: string }).Action)
    .filter((a) => a.startsWith('exec_create'));
}

describe('rollout tools: persistent shell', { skip: probe.skip ?? false }, () => {
  before(async () => {
    image = await ensureBaseImage(docker, '3.11', { bottegaHome: BOTTEGA_HOME });
  });

  after(async () => {
    await Promise.all(open.map((r) => r.close().catch(() => {})));
    for (const c of await ourContainers().catch(() => [])) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
    }
  });

  it('runs bash and editor calls without any docker exec', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const rt = await start();
    assert.equal((await bash(rt, 'echo one')).output, 'one\n');
    const created = await rt.call({
      id: 'e1',
      name: 'str_replace_editor',
      arguments: { command: 'create', path: '/tmp/x/y.txt', file_text: 'a\u0000b ✓\n' },
    });
    assert.equal(created.exitCode, 0, created.output);
    assert.equal((await bash(rt, 'od -An -c /tmp/x/y.txt | tr -s " "')).output.trim(), 'a \\0 b 342 234 223 \\n');
    const [c] = await ourContainers();
    // The engine's event log has an exec_create for every exec: the old runtime made two per call.
    const execs = await execEvents(c!.Id, since);
    assert.deepEqual(execs, []);
  });

  it('the editor writes empty content (create, and undo of a create)', async () => {
    const rt = await start();
    const edit = (args: Record<string, unknown>) =>
      rt.call({ id: `e${++n}`, name: 'str_replace_editor', arguments: args });
    assert.equal((await edit({ command: 'create', path: '/tmp/empty.txt', file_text: '' })).exitCode, 0);
    assert.equal((await bash(rt, 'stat -c %s /tmp/empty.txt')).output, '0\n');
    assert.equal((await edit({ command: 'create', path: '/tmp/full.txt', file_text: 'x\n' })).exitCode, 0);
    const undo = await edit({ command: 'undo_edit', path: '/tmp/full.txt' });
    assert.equal(undo.exitCode, 0, undo.output);
    assert.equal((await bash(rt, 'stat -c %s /tmp/full.txt')).output, '0\n');
  });

  it('a bash call costs less than one bare docker exec (medians, interleaved)', async () => {
    const rt = await start();
    const [c] = await ourContainers();
    const container = docker.getContainer(c!.Id);
    const shell: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < 15; i++) {
      let t0 = performance.now();
      assert.equal((await bash(rt, 'true')).exitCode, 0);
      shell.push(performance.now() - t0);
      t0 = performance.now();
      await rawExec(container);
      raw.push(performance.now() - t0);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Measured here: about 6x below the exec API; the old runtime (two execs a call) was above it.
    assert.ok(median(shell) < median(raw), `shell ${median(shell).toFixed(1)} ms vs exec ${median(raw).toFixed(1)} ms`);
  });

  it('answers concurrent calls on one runtime each with its own output', async () => {
    const rt = await start();
    const rs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => bash(rt, `sleep 0.$((RANDOM % 3)); echo call-${i}; exit ${i}`))
    );
    rs.forEach((r, i) => {
      assert.equal(r.output, `call-${i}\n`);
      assert.equal(r.exitCode, i);
    });
  });

  it('kills what a call leaves behind, and a process that escapes its group cannot hang the call', async () => {
    const rt = await start();
    const bg = await bash(rt, 'sleep 300 & echo started');
    assert.equal(bg.output, 'started\n');
    assert.equal((await bash(rt, 'pgrep -c -x sleep || true')).output.trim(), '0');
    // setsid leaves the process group but keeps the output pipe open: the server stops waiting for it.
    const t0 = Date.now();
    const esc = await bash(rt, 'setsid sleep 120 & sleep 0.5; echo escaped');
    assert.equal(esc.exitCode, 0, esc.output);
    assert.match(esc.output, /escaped/);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.equal((await bash(rt, 'echo next')).output, 'next\n');
    // The escaped process held the call's output, so it was killed too.
    assert.equal((await bash(rt, 'pgrep -c -x sleep || true')).output.trim(), '0');
  });

  it('keeps working after a command wipes /tmp', async () => {
    const rt = await start();
    assert.equal((await bash(rt, 'rm -rf /tmp/* /tmp/.[!.]*; echo wiped')).output, 'wiped\n');
    assert.equal((await bash(rt, 'echo fine')).output, 'fine\n');
    const w = await rt.call({
      id: 'e2',
      name: 'str_replace_editor',
      arguments: { command: 'create', path: '/tmp/after.txt', file_text: 'ok\n' },
    });
    assert.equal(w.exitCode, 0, w.output);
    assert.equal((await bash(rt, 'cat /tmp/after.txt')).output, 'ok\n');
  });

  it('keeps the first and last bytes of huge output, exactly', async () => {
    const rt = await start();
    const r = await bash(rt, 'printf HEAD; head -c 5000000 /dev/zero | tr "\\0" x; printf TAIL');
    assert.equal(r.exitCode, 0);
    // Only x between HEAD and TAIL around the clipping note: no stray bytes from a misaligned decode.
    assert.match(r.output, /^HEADx+\n<response clipped>.*<\/NOTE>\nx+TAIL$/s);
    assert.ok(r.output.length < 2600, `output has ${r.output.length} chars`);
  });

  it('reports the shell server killed from inside as ToolEnvError', async () => {
    const rt = await start();
    // The command's parent is `timeout`, whose parent is the server.
    const killer = 'read -r _ _ _ server _ < /proc/$PPID/stat; kill -KILL "$server"; sleep 5';
    await assert.rejects(bash(rt, killer), ToolEnvError);
    await assert.rejects(bash(rt, 'true'), ToolEnvError);
  });

  it('an image without bash fails at start with ToolEnvError naming the image, leaving no container', async () => {
    const tag = `bottega-test/no-bash:${process.pid}`;
    const context = await filesArchive([
      { path: '/Dockerfile', content: 'FROM scratch\nCOPY hello.txt /hello.txt\n' },
      { path: '/hello.txt', content: 'no shell here\n' },
    ]);
    const build = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag });
    await new Promise((resolve, reject) =>
      docker.modem.followProgress(build, (err: Error | null, out: unknown) => (err ? reject(err) : resolve(out)))
    );
    try {
      const before = (await ourContainers()).length;
      await assert.rejects(
        startContainerRuntime(docker, {
          image: tag,
          limits: LIMITS,
          network: false,
          commandTimeoutMs: 4000,
          maxOutputChars: 2000,
          labels: testLabel,
        }),
        (err: Error) => err instanceof ToolEnvError && err.message.includes(tag) && /needs bash/.test(err.message)
      );
      assert.equal((await ourContainers()).length, before);
    } finally {
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {});
    }
  });

  it('cancellation mid-call rejects at once with the reason and removes the container', async () => {
    const ac = new AbortController();
    const rt = await start({ signal: ac.signal, commandTimeoutMs: 60_000 });
    const before = (await ourContainers()).length;
    const pending = bash(rt, 'sleep 50');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    ac.abort(new Error('stop now'));
    await assert.rejects(pending, /stop now/);
    assert.ok(Date.now() - t0 < 2000, `rejected after ${Date.now() - t0} ms`);
    for (let i = 0; i < 50 && (await ourContainers()).length >= before; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await ourContainers()).length, before - 1);
  });
});
