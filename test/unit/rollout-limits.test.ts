import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerStartSlot, endpointLimit } from '../../activities/rollout/limits';

describe('rollout limits shared by a worker', () => {
  it('bounds model calls per endpoint across rollouts', async () => {
    const limit = endpointLimit('http://127.0.0.1:9/v1', 2);
    assert.equal(endpointLimit('http://127.0.0.1:9/v1', 99), limit, 'one limiter per endpoint');
    let inFlight = 0;
    let max = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        limit(async () => {
          max = Math.max(max, ++inFlight);
          await new Promise((r) => setTimeout(r, 10));
          inFlight--;
        })
      )
    );
    assert.equal(max, 2);
  });

  it('spaces container starts to the configured rate', async () => {
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 4 }, () => containerStartSlot(20)));
    // 4 starts at 20/s: the last one waits at least ~3 gaps of 50 ms.
    assert.ok(Date.now() - t0 >= 140, `took ${Date.now() - t0} ms`);
  });
});
