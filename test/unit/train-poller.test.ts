import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JobInfo, SlurmBackend } from '../../activities/train/backend';
import { HURRY_MS, pollDelayMs } from '../../activities/train/cadence';
import { JobPoller } from '../../activities/train/poller';
import { SlurmPollConfig, nextReportAfterS } from '../../contracts';
import type { SlurmJobState } from '../../contracts';

/** A backend whose poll records each call's ids and answers from a state table. */
function fakeBackend(states: Map<string, SlurmJobState>) {
  const calls: { ids: string[]; at: number }[] = [];
  const backend = {
    kind: 'cli',
    key: 'fake',
    async poll(ids: readonly string[]) {
      calls.push({ ids: [...ids].sort(), at: Date.now() });
      const out = new Map<string, JobInfo>();
      for (const id of ids) {
        const state = states.get(id);
        if (state) out.set(id, { jobId: id, name: `n${id}`, state, elapsed: 0, exitCode: null, reason: null });
      }
      return out;
    },
  } as unknown as SlurmBackend;
  return { backend, calls };
}

describe('batched job poller', () => {
  it('answers concurrent monitors with one poll call for all their jobs', async () => {
    const states = new Map<string, SlurmJobState>([
      ['1', 'RUNNING'],
      ['2', 'PENDING'],
    ]);
    const { backend, calls } = fakeBackend(states);
    const poller = new JobPoller(backend, { initialMs: 20, maxMs: 200 });
    const [a, b, c] = await Promise.all([poller.next('1'), poller.next('2'), poller.next('3')]);
    assert.equal(a?.state, 'RUNNING');
    assert.equal(b?.state, 'PENDING');
    assert.equal(c, null, 'a job the scheduler does not know');
    assert.deepEqual(calls[0]!.ids, ['1', '2', '3']);
    assert.equal(calls.length, 1);
  });

  it('backs off with the time since the last state change and polls fast again after a change', async () => {
    const states = new Map<string, SlurmJobState>([['1', 'RUNNING']]);
    const { backend, calls } = fakeBackend(states);
    const poller = new JobPoller(backend, { initialMs: 10, maxMs: 80 });
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) await poller.next('1');
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
    assert.ok(gaps[0]! < 40, `fast at first: ${gaps.join(',')}`);
    assert.ok(gaps.at(-1)! >= 60, `backed off to the maximum: ${gaps.join(',')}`);
    assert.ok(
      gaps.every((g) => g <= 80 + 40),
      `never past the maximum: ${gaps.join(',')}`
    );
    states.set('1', 'COMPLETED');
    await poller.next('1'); // sees the change
    const before = calls.length;
    await poller.next('1');
    assert.ok(calls[before]!.at - calls[before - 1]!.at < 40, 'interval reset after a state change');
  });

  it('hurry polls at once and then every HURRY_MS until the state changes', async () => {
    const states = new Map<string, SlurmJobState>([['1', 'RUNNING']]);
    const { backend, calls } = fakeBackend(states);
    const poller = new JobPoller(backend, { initialMs: 1000, maxMs: 5000 });
    await poller.next('1');
    const waiting = poller.next('1');
    await new Promise((r) => setTimeout(r, 20));
    const t = Date.now();
    poller.hurry('1');
    await waiting;
    assert.ok(Date.now() - t < 200, 'polled at once');
    const at = Date.now();
    await poller.next('1');
    const gap = Date.now() - at;
    assert.ok(gap >= HURRY_MS - 50 && gap < HURRY_MS + 300, `then every ${HURRY_MS} ms: ${gap}`);
    states.set('1', 'COMPLETED');
    await poller.next('1');
    assert.equal(calls.length, 4);
  });

  it('passes a failed poll to every waiter (each monitor retries on its own)', async () => {
    const backend = {
      key: 'broken',
      poll: async () => {
        throw new Error('squeue: connection refused');
      },
    } as unknown as SlurmBackend;
    const poller = new JobPoller(backend, { initialMs: 10, maxMs: 20 });
    const r = await Promise.allSettled([poller.next('1'), poller.next('2')]);
    assert.deepEqual(
      r.map((x) => x.status),
      ['rejected', 'rejected']
    );
  });
});

describe('poll and report cadence', () => {
  it('polls at a tenth of the time since the last state change, between initial and max', () => {
    const c = { initialMs: 2000, maxMs: 60_000 };
    assert.equal(pollDelayMs(0, c), 2000);
    assert.equal(pollDelayMs(15_000, c), 2000);
    assert.equal(pollDelayMs(50_000, c), 5000);
    assert.equal(pollDelayMs(300_000, c), 30_000);
    assert.equal(pollDelayMs(86_400_000, c), 60_000);
  });

  it('reports report_initial_s after a state change, doubling up to report_every_s', () => {
    const poll = SlurmPollConfig.parse({});
    assert.deepEqual([poll.report_initial_s, poll.report_every_s], [5, 60]);
    const seq = [nextReportAfterS(poll, null)];
    for (let i = 0; i < 6; i++) seq.push(nextReportAfterS(poll, seq.at(-1)!));
    assert.deepEqual(seq, [5, 10, 20, 40, 60, 60, 60]);
    // report_every_s below report_initial_s caps the first report too.
    const fast = SlurmPollConfig.parse({ report_every_s: 2 });
    assert.deepEqual([nextReportAfterS(fast, null), nextReportAfterS(fast, 2)], [2, 2]);
  });
});
