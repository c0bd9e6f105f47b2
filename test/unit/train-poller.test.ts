import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JobInfo, SlurmBackend } from '../../activities/train/backend';
import { JobPoller } from '../../activities/train/poller';
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

  it('backs off while nothing changes and polls fast again after a change', async () => {
    const states = new Map<string, SlurmJobState>([['1', 'RUNNING']]);
    const { backend, calls } = fakeBackend(states);
    const poller = new JobPoller(backend, { initialMs: 10, maxMs: 80 });
    for (let i = 0; i < 6; i++) await poller.next('1');
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
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
