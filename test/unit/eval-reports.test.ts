import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildRunReport, classify, instanceReportJson, modelSlug } from '../../activities/evaluate';
import { EvalRunReport, type GradedInstance, type InstanceReport } from '../../contracts';

const report = (over: Partial<InstanceReport> = {}): InstanceReport => ({
  patch_is_None: false,
  patch_exists: true,
  patch_successfully_applied: true,
  resolved: false,
  infra_failure: null,
  tests_status: {
    FAIL_TO_PASS: { success: [], failure: [] },
    PASS_TO_PASS: { success: [], failure: [] },
    FAIL_TO_FAIL: { success: [], failure: [] },
    PASS_TO_FAIL: { success: [], failure: [] },
  },
  ...over,
});
const valid = { valid: true, reason: null };
const graded = (
  id: string,
  outcome: GradedInstance['outcome'],
  reason: string | null = null,
  r: InstanceReport | null = null
): GradedInstance => ({
  instance_id: id,
  outcome,
  reason,
  report: r,
  log: '',
  timings: null,
});

describe('classify', () => {
  it('resolved, failed tests, not applied', () => {
    assert.deepEqual(classify(report({ resolved: true }), valid), { outcome: 'resolved', reason: null });
    assert.deepEqual(classify(report(), valid), { outcome: 'unresolved', reason: 'tests_failed' });
    assert.deepEqual(
      classify(report({ patch_successfully_applied: false }), { valid: false, reason: 'patch_apply_failed' }),
      {
        outcome: 'unresolved',
        reason: 'patch_apply_failed',
      }
    );
  });
  it('a suite that did not run, a timeout, a broken test patch or a parser crash is an error', () => {
    for (const reason of [
      'no_tests_ran',
      'no_tests_collected',
      'tests_timed_out',
      'test_patch_apply_failed',
      'parser_crashed',
    ])
      assert.deepEqual(classify(report(), { valid: false, reason }), { outcome: 'error', reason });
  });
  it('a rejected log (forged PASSED lines) is unresolved, with the rejection as reason', () => {
    assert.deepEqual(classify(report(), { valid: false, reason: 'exit_code_mismatch' }), {
      outcome: 'unresolved',
      reason: 'exit_code_mismatch',
    });
  });
  it('an advisory label is the reason of an unresolved valid run', () => {
    assert.deepEqual(classify(report({ infra_failure: 'out_of_memory' }), valid), {
      outcome: 'unresolved',
      reason: 'out_of_memory',
    });
  });
});

describe('report shapes', () => {
  it('report.json is keyed by instance id', () => {
    const r = report({ resolved: true });
    assert.deepEqual(instanceReportJson('a__b-1', r), { 'a__b-1': r });
  });
  it('model slugs follow SWE-bench', () => {
    assert.equal(modelSlug('org/model'), 'org__model');
    assert.equal(modelSlug(null), 'None');
  });
});

describe('buildRunReport', () => {
  it('puts each task in exactly one bucket and counts them', () => {
    const results = new Map<string, GradedInstance>([
      ['r1', graded('r1', 'resolved', null, report({ resolved: true }))],
      ['u1', graded('u1', 'unresolved', 'tests_failed', report())],
      ['u2', graded('u2', 'unresolved', 'missing_module', report({ infra_failure: 'missing_module' }))],
      ['e1', graded('e1', 'empty_patch', 'empty_patch')],
      ['x1', graded('x1', 'error', 'tests_timed_out')],
      ['i1', graded('i1', 'infra_failure', 'image_missing')],
    ]);
    const rr = EvalRunReport.parse(
      buildRunReport({
        taskIds: ['r1', 'u1', 'u2', 'e1', 'x1', 'i1', 'missing'],
        results,
        unknownIds: ['zz'],
        cache: { reused: 2, graded: 2 },
      })
    );
    assert.equal(rr.schema_version, 2);
    assert.equal(rr.total_instances, 7);
    assert.equal(rr.submitted_instances, 6);
    assert.equal(rr.completed_instances, 3);
    assert.equal(rr.resolved_instances, 1);
    assert.equal(rr.unresolved_instances, 2);
    assert.equal(rr.empty_patch_instances, 1);
    assert.equal(rr.error_instances, 1);
    assert.equal(rr.infra_failure_instances, 1);
    assert.deepEqual(rr.completed_ids, ['r1', 'u1', 'u2']);
    assert.deepEqual(rr.incomplete_ids, ['missing']);
    assert.deepEqual(rr.submitted_ids, ['e1', 'i1', 'r1', 'u1', 'u2', 'x1']);
    assert.deepEqual(rr.error_ids, ['x1']);
    assert.deepEqual(rr.infra_failure_ids, ['i1']);
    assert.deepEqual(rr.ambiguous_failure_ids, ['u2', 'x1']);
    assert.deepEqual(rr.unknown_ids, ['zz']);
    assert.equal(rr.failure_reasons.i1, 'image_missing');
    assert.equal(rr.failure_reasons.r1, undefined);
    const buckets =
      rr.resolved_instances +
      rr.unresolved_instances +
      rr.empty_patch_instances +
      rr.error_instances +
      rr.infra_failure_instances;
    assert.equal(buckets, rr.submitted_instances);
    assert.deepEqual(rr.strict_disagreements, { count: 0, ids: [], reasons: {} });
  });

  it('reports the strict check beside the official counts, never in them', () => {
    const forged = ['rejects_log: exit_code_mismatch'];
    const xpass = ['test_passes: FAIL_TO_PASS "t::a" strict PASSED, official missing'];
    const results = new Map<string, GradedInstance>([
      ['r1', graded('r1', 'resolved', null, report({ resolved: true, strict: { resolved: false, reasons: forged } }))],
      ['u1', graded('u1', 'unresolved', 'tests_failed', report({ strict: { resolved: true, reasons: xpass } }))],
      ['u2', graded('u2', 'unresolved', 'tests_failed', report({ strict: { resolved: false, reasons: [] } }))],
      ['u3', graded('u3', 'unresolved', 'tests_failed', report())],
    ]);
    const rr = EvalRunReport.parse(
      buildRunReport({ taskIds: ['r1', 'u1', 'u2', 'u3'], results, cache: { reused: 0, graded: 4 } })
    );
    assert.equal(rr.resolved_instances, 1);
    assert.deepEqual(rr.strict_disagreements, { count: 2, ids: ['r1', 'u1'], reasons: { r1: forged, u1: xpass } });
  });
});
