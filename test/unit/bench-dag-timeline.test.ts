import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StageGraph } from '../../contracts/dag';
import { criticalPath, median, overlapS, stageSpans, type HistoryEvent } from '../../bench/dag-timeline';

/** A Long as the proto decoder gives `seconds` (the SDK's histories), for one event at `ms`. */
const at = (ms: number) => ({
  seconds: { toNumber: () => Math.floor(ms / 1000) },
  nanos: (ms % 1000) * 1e6,
});
const T0 = 1_796_222_836_000;
const ev = (ms: number, attrs: Record<string, unknown>): HistoryEvent =>
  ({ eventTime: at(T0 + ms), ...attrs }) as unknown as HistoryEvent;
const initiated = (ms: number, workflowId: string) =>
  ev(ms, { startChildWorkflowExecutionInitiatedEventAttributes: { workflowId } });
const closed = (ms: number, kind: string, workflowId: string) =>
  ev(ms, { [kind]: { workflowExecution: { workflowId } } });

const STAGES = ['mine', 'build', 'rollout', 'mix'];

/** mine ∥ build → rollout, then mix from mine and rollout: the bench's graph. */
const GRAPH: StageGraph = {
  order: ['mine', 'build', 'rollout', 'mix'],
  needs: { mine: [], build: [], rollout: ['build'], mix: ['mine', 'rollout'] },
  edges: [],
};

describe('bench dag timeline: stage spans from the experiment history', () => {
  it("takes each stage child's span from its initiated event to the event that closed it, in ms from the start", () => {
    const spans = stageSpans(
      [
        ev(0, { workflowExecutionStartedEventAttributes: {} }),
        initiated(100, 'exp/mine'),
        initiated(250, 'exp/build'),
        // A child of another experiment, and one that is not a stage: neither counts.
        initiated(300, 'other/rollout'),
        initiated(310, 'exp/holder'),
        closed(5_200, 'childWorkflowExecutionCompletedEventAttributes', 'exp/build'),
        initiated(5_400, 'exp/rollout'),
        closed(17_000, 'childWorkflowExecutionCompletedEventAttributes', 'exp/mine'),
        closed(17_200, 'childWorkflowExecutionFailedEventAttributes', 'exp/rollout'),
        closed(17_300, 'childWorkflowExecutionCompletedEventAttributes', 'other/rollout'),
      ],
      'exp',
      STAGES
    );
    assert.deepEqual(spans, {
      mine: { start: 100, end: 17_000 },
      build: { start: 250, end: 5_200 },
      rollout: { start: 5_400, end: 17_200 },
    });
  });

  it('leaves a child with no closing event open (end NaN), and such a span overlaps nothing', () => {
    const spans = stageSpans(
      [ev(0, {}), initiated(100, 'exp/mine'), initiated(200, 'exp/build'), closed(900, 'x', 'exp/build')],
      'exp',
      STAGES
    );
    assert.ok(Number.isNaN(spans.mine!.end));
    assert.equal(overlapS(spans.mine, spans.build), 0);
  });

  it('measures overlap in seconds, 0 for spans one after the other or a missing one', () => {
    assert.equal(overlapS({ start: 100, end: 17_000 }, { start: 250, end: 5_200 }), 4.95);
    assert.equal(overlapS({ start: 0, end: 1_000 }, { start: 1_000, end: 2_000 }), 0);
    assert.equal(overlapS({ start: 0, end: 1_000 }, { start: 3_000, end: 4_000 }), 0);
    assert.equal(overlapS({ start: 0, end: 1_000 }, undefined), 0);
  });

  it("finds the graph's longest path with a chain run's stage times", () => {
    // A chain run: mine 9 s, build 3 s, rollout 8 s, mix 1 s, one after another.
    const p = criticalPath(GRAPH, {
      mine: { start: 0, end: 9_000 },
      build: { start: 9_000, end: 12_000 },
      rollout: { start: 12_000, end: 20_000 },
      mix: { start: 20_000, end: 21_000 },
    });
    assert.equal(p.sumS, 21);
    assert.equal(p.criticalS, 12, 'build + rollout (11 s) is longer than mine (9 s); then mix');
    assert.deepEqual(p.stages, ['build', 'rollout', 'mix']);
    // With a slower mine, the path goes through it.
    const q = criticalPath(GRAPH, {
      mine: { start: 0, end: 15_000 },
      build: { start: 15_000, end: 18_000 },
      rollout: { start: 18_000, end: 26_000 },
      mix: { start: 26_000, end: 27_000 },
    });
    assert.deepEqual(q.stages, ['mine', 'mix']);
    assert.equal(q.criticalS, 16);
  });

  it('takes the median of odd and even lists', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
