import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  classifyState,
  isTerminal,
  jobFailure,
  normalizeState,
  parseElapsed,
  refineFinalState,
} from '../../activities/train/states';
import { parseSacct, parseSqueue } from '../../activities/train/cli-backend';
import { jobFromRest } from '../../activities/train/rest-backend';

describe('Slurm job states', () => {
  it('keeps requeue and preemption states non-terminal', () => {
    for (const s of [
      'PENDING',
      'RUNNING',
      'CONFIGURING',
      'COMPLETING',
      'REQUEUED',
      'PREEMPTED',
      'SUSPENDED',
    ] as const) {
      assert.equal(isTerminal(s), false, s);
      assert.equal(classifyState(s), 'active', s);
    }
    assert.equal(classifyState('COMPLETED'), 'completed');
    for (const s of ['FAILED', 'NODE_FAIL', 'TIMEOUT', 'OUT_OF_MEMORY', 'CANCELLED'] as const)
      assert.equal(classifyState(s), 'failed', s);
  });

  it('normalises squeue, sacct and REST spellings', () => {
    assert.equal(normalizeState('CANCELLED by 0'), 'CANCELLED');
    assert.equal(normalizeState('OOM'), 'OUT_OF_MEMORY');
    assert.equal(normalizeState('PD'), 'PENDING');
    assert.equal(normalizeState(['RUNNING', 'REQUEUED']), 'RUNNING');
    assert.equal(normalizeState('WEIRD'), 'UNKNOWN');
    assert.equal(classifyState(normalizeState('WEIRD')), 'active');
  });

  it('turns failures into typed non-retryable ApplicationFailures with the log tail', () => {
    const cases = [
      ['FAILED', 'SlurmJobFailed'],
      ['NODE_FAIL', 'SlurmNodeFail'],
      ['TIMEOUT', 'SlurmJobTimeout'],
      ['OUT_OF_MEMORY', 'SlurmJobOutOfMemory'],
      ['CANCELLED', 'SlurmJobCancelled'],
    ] as const;
    for (const [state, type] of cases) {
      const f = jobFailure({ stage: 'mt1', jobId: '7', state, exitCode: '1:0', logTail: ['a', 'Traceback: boom'] });
      assert.ok(f instanceof ApplicationFailure);
      assert.equal(f.type, type);
      assert.equal(f.nonRetryable, true);
      assert.match(f.message, /Traceback: boom/);
      assert.deepEqual((f.details?.[0] as { logTail: string[] }).logTail, ['a', 'Traceback: boom']);
    }
  });

  it('reads a memory kill from the log when Slurm says FAILED', () => {
    const tail = ['slurmstepd-vm: error: StepId=7.0 exceeded memory limit (202461184 > 104857600), being killed'];
    assert.equal(refineFinalState('FAILED', tail), 'OUT_OF_MEMORY');
    assert.equal(refineFinalState('FAILED', ['Detected 1 oom-kill event(s)']), 'OUT_OF_MEMORY');
    assert.equal(refineFinalState('FAILED', ['exit 3']), 'FAILED');
    assert.equal(refineFinalState('TIMEOUT', tail), 'TIMEOUT');
  });

  it('parses elapsed times and CLI output', () => {
    assert.equal(parseElapsed('0:04'), 4);
    assert.equal(parseElapsed('1:02:03'), 3723);
    assert.equal(parseElapsed('2-01:00:00'), 176400);
    assert.equal(parseElapsed('INVALID'), 0);
    assert.deepEqual(parseSqueue('5|bottega.x.mt1|PENDING|0:00|BeginTime|bottega:mt1:x\n'), [
      {
        jobId: '5',
        name: 'bottega.x.mt1',
        state: 'PENDING',
        elapsed: 0,
        exitCode: null,
        reason: 'BeginTime',
        comment: 'bottega:mt1:x',
      },
    ]);
    assert.equal(parseSqueue('6|n|RUNNING|1:00|None|(null)\n')[0]!.comment, null);
    assert.equal(parseSacct('9|n|CANCELLED by 0|12|0:15|None\n')[0]!.state, 'CANCELLED');
    const rest = jobFromRest(
      { job_id: 3, name: 'n', job_state: ['RUNNING'], start_time: { set: true, number: 100 } },
      160
    );
    assert.equal(rest.state, 'RUNNING');
    assert.equal(rest.elapsed, 60);
  });
});
