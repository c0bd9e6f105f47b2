import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { liveMetrics } from '../../activities/train/live-metrics';
import { newTailLines, trainStatusLines } from '../../cli/logs';
import { lastLines, localFiles } from '../../activities/train/files';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeTrainStage,
  formatSeconds,
  formatTrainMetrics,
  liveElapsed,
  type TrainStageProgress,
} from '../../workflows/train-progress';

describe('live trainer metrics', () => {
  it('takes the newest step line, mean tokens/s of the tail, and total steps from a start line', () => {
    const m = liveMetrics([
      '{"event":"start","step":0,"total_steps":400,"time":1}',
      '{"event":"step","step":11,"loss":2.5,"lr":0.0001,"tokens_per_s":1000,"time":10}',
      'not json',
      '[1,2]',
      '{"event":"stopped","step":11}',
      '{"step":12,"loss":2.25,"tokens_per_s":3000,"time":11}',
      '{"event":"step","step":13,"lo',
    ]);
    assert.deepEqual(m, { step: 12, total_steps: 400, loss: 2.25, tokens_per_s: 2000, lr: null, time: 11 });
  });

  it('is null before the first step, and leaves out what a trainer does not write', () => {
    assert.equal(liveMetrics([]), null);
    assert.equal(liveMetrics(['{"event":"start","step":0,"total_steps":5}']), null);
    assert.deepEqual(liveMetrics(['{"step":3,"loss":"NaN"}']), {
      step: 3,
      total_steps: null,
      loss: null,
      tokens_per_s: null,
      lr: null,
      time: null,
    });
  });

  it('reads only the end of a big file for a tail (a cut first line is dropped)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-tail-'));
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ step: i, loss: 1 / (i + 1) }));
    writeFileSync(join(dir, 'm.jsonl'), lines.join('\n') + '\n');
    const tail = await localFiles().tail(join(dir, 'm.jsonl'), 50);
    assert.deepEqual(tail, lastLines(lines.join('\n'), 50));
    assert.equal(liveMetrics(tail)?.step, 19_999);
    assert.deepEqual(await localFiles().tail(join(dir, 'missing'), 5), []);
  });
});

describe('train progress phrases', () => {
  const job: TrainStageProgress = {
    name: 'mt1',
    state: 'RUNNING',
    jobId: '34',
    elapsed: 60,
    logTail: [],
    updatedAt: 1_000_000,
    runningSince: 940_000,
    metrics: { step: 120, total_steps: 1000, loss: 2.31449, tokens_per_s: 5400.4, lr: null, time: null },
  };

  it('formats durations, metrics and a running job', () => {
    assert.deepEqual(
      [formatSeconds(5), formatSeconds(65), formatSeconds(3725), formatSeconds(200_000)],
      ['5s', '1m05s', '1h02m', '2d07h']
    );
    assert.equal(formatTrainMetrics(job.metrics), 'step 120/1000 · loss 2.314 · 5,400 tok/s');
    assert.equal(
      formatTrainMetrics({ step: 3, total_steps: null, loss: null, tokens_per_s: 123_456, lr: null, time: null }),
      'step 3 · 123.5k tok/s'
    );
    assert.equal(formatTrainMetrics(null), null);
    // Elapsed counts on from runningSince while RUNNING.
    assert.equal(liveElapsed(job, 1_005_000), 65);
    assert.equal(
      describeTrainStage(job, 1_005_000, { withJob: true }),
      'mt1 (job 34) RUNNING 1m05s · step 120/1000 · loss 2.314 · 5,400 tok/s'
    );
    assert.equal(liveElapsed({ ...job, state: 'REQUEUED', runningSince: null }, 1_005_000), 60);
    assert.equal(describeTrainStage({ ...job, state: 'PENDING', elapsed: 0, metrics: null }, 0), 'mt1 PENDING');
  });
});

describe('bottega logs train: live lines', () => {
  it('prints a status line per submitted job and only the new lines of the job log', () => {
    const base = { logTail: [], updatedAt: null, runningSince: null, metrics: null };
    const lines = trainStatusLines(
      {
        stages: [
          { ...base, name: 'mt1', state: 'COMPLETED', jobId: '7', elapsed: 30 },
          { ...base, name: 'sft', state: 'PENDING', jobId: '8', elapsed: 0 },
          { ...base, name: 'rl', state: 'WAITING', jobId: null, elapsed: 0 },
        ],
        current: 1,
      },
      0
    );
    assert.deepEqual(lines, ['mt1 (job 7) COMPLETED 30s', 'sft (job 8) PENDING']);
    assert.deepEqual(newTailLines(['a', 'b', 'c'], ['b', 'c', 'd', 'e']), ['d', 'e']);
    assert.deepEqual(newTailLines(['a', 'b'], ['a', 'b']), []);
    assert.deepEqual(newTailLines([], ['x']), ['x']);
    assert.deepEqual(newTailLines(['a', 'b'], ['c', 'd']), ['c', 'd']);
  });
});
