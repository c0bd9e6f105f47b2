import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  describeIssues,
  DagError,
  dagSignatures,
  dependentsOf,
  ExperimentSpec,
  formatGraphMermaid,
  formatGraphText,
  stageEdges,
  stageGraph,
} from '../../contracts';

/** The paper's recipe (examples/paper-recipe.yaml), parsed, with `over` merged at the top level. */
function recipe(over: Record<string, unknown> = {}): ExperimentSpec {
  const raw = parseYaml(readFileSync(new URL('../../examples/paper-recipe.yaml', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  return ExperimentSpec.parse({ ...raw, ...over });
}

describe('experiment DAG (contracts/dag.ts)', () => {
  it("computes the paper recipe's graph: what each stage reads", () => {
    const g = stageGraph(recipe());
    assert.deepEqual(g.order, ['mine', 'build', 'rollout', 'mix', 'train', 'evaluate']);
    assert.deepEqual(g.needs, {
      mine: [],
      build: ['mine'],
      rollout: ['build'],
      mix: ['mine', 'rollout'],
      train: ['mix'],
      evaluate: ['train'],
    });
    const mix = g.edges.filter((e) => e.to === 'mix');
    assert.deepEqual(
      mix.map((e) => [e.from, e.what]),
      [
        ['mine', ['general', 'python']],
        ['rollout', ['pass', 'fail']],
      ]
    );
  });

  it('build from task files does not read mine: mine and build → rollout are independent branches', () => {
    const spec = recipe({ build: { tasks: { files: ['/tmp/tasks.jsonl'] } } });
    const g = stageGraph(spec);
    assert.deepEqual(g.needs.build, []);
    assert.deepEqual(dependentsOf(g, 'mine'), ['mix', 'train', 'evaluate']);
    assert.deepEqual(dependentsOf(g, 'build'), ['rollout', 'mix', 'train', 'evaluate']);
    assert.match(formatGraphText(g), /run side by side from the start: mine, build/);
    // an evaluation of fixed tasks and an endpoint reads from no stage: it runs beside training
    const ev = stageGraph(
      recipe({
        build: { tasks: { files: ['/tmp/tasks.jsonl'] } },
        evaluate: { tasks: { path: '/tmp/v.jsonl' }, model: { endpoint: 'http://x/v1', model: 'm' } },
      })
    );
    assert.deepEqual(ev.needs.evaluate, []);
  });

  it('names the spec path of every reader whose producer is missing', () => {
    const raw = parseYaml(readFileSync(new URL('../../examples/paper-recipe.yaml', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    >;
    const { mine: _m, build: _b, mix: _x, train: _t, ...rest } = raw;
    // rollout without build; evaluate's checkpoint from a train stage that is not there
    const spec = ExperimentSpec.parse({
      ...rest,
      evaluate: { tasks: { path: '/tmp/v.jsonl' }, model: { endpoint: 'http://x/v1', model: 'm' } },
    });
    const { problems } = stageEdges(spec);
    assert.deepEqual(
      problems.map((p) => p.path),
      ['rollout']
    );
    assert.throws(
      () => stageGraph(spec),
      (e: unknown) => e instanceof DagError && /rollout: rollout reads tasks from the build stage/.test(e.message)
    );
    const noMine = stageEdges({ build: { tasks: { from_mine: true } } });
    assert.deepEqual(noMine.problems[0]!.path, 'build.tasks.from_mine');
    assert.match(noMine.problems[0]!.message, /add `mine`/);
    const noTrain = stageEdges({ evaluate: { tasks: { path: 'x' }, model: { checkpoint: 'train' } } as never });
    assert.deepEqual(noTrain.problems[0]!.path, 'evaluate.model.checkpoint');
  });

  it('signs each stage on its own inputs: a mine change leaves build and rollout alone', () => {
    const base = recipe({ build: { tasks: { files: ['/tmp/tasks.jsonl'] } } });
    const other = recipe({ build: { tasks: { files: ['/tmp/tasks.jsonl'] } } });
    other.mine!.max_tokens = 16384;
    const a = dagSignatures(base);
    const b = dagSignatures(other);
    assert.notEqual(a.mine, b.mine);
    assert.equal(a.build, b.build);
    assert.equal(a.rollout, b.rollout);
    assert.notEqual(a.mix, b.mix, 'mix reads mine');
    assert.notEqual(a.train, b.train);
    // with build taking the mine stage's candidates, a mine change reaches build too
    const c = dagSignatures(recipe());
    const d = recipe();
    d.mine!.max_tokens = 16384;
    assert.notEqual(c.build, dagSignatures(d).build);
    // a build input that is not a stage output (the mine sources' local repositories) is signed too
    assert.notEqual(dagSignatures(base, { build: { 'o/r': '/a' } }).build, a.build);
  });

  it('a forced stage and what reads from it get signatures of their own; other branches do not', () => {
    const spec = recipe({ build: { tasks: { files: ['/tmp/tasks.jsonl'] } } });
    const plain = dagSignatures(spec);
    const forced = dagSignatures({ ...spec, force: ['mine'] });
    assert.notEqual(plain.mine, forced.mine);
    assert.notEqual(plain.mix, forced.mix);
    assert.equal(plain.build, forced.build);
    assert.equal(plain.rollout, forced.rollout);
  });

  it('draws the graph as Mermaid with labelled edges and node labels', () => {
    const g = stageGraph(recipe());
    const m = formatGraphMermaid(g, (s) => (s === 'mine' ? 'ran "1s"' : ''));
    assert.match(m, /^flowchart LR/);
    assert.match(m, /mine\["mine<br\/>ran #quot;1s#quot;"\]/);
    assert.match(m, /rollout -->\|pass, fail\| mix/);
    assert.equal(m.split('\n').filter((l) => l.includes('-->')).length, g.edges.length);
  });

  it('several named evaluations: one node each, reading what each names', () => {
    const spec = recipe({
      evaluate: [
        { name: 'base', tasks: { from: 'build' }, model: { endpoint: 'http://x/v1', model: 'base' } },
        {
          name: 'trained',
          tasks: { path: '/tmp/v.jsonl' },
          model: { checkpoint: 'train', serve: { python: '/p/python' } },
        },
      ],
    });
    const g = stageGraph(spec);
    assert.deepEqual(g.order, ['mine', 'build', 'rollout', 'mix', 'train', 'evaluate.base', 'evaluate.trained']);
    assert.deepEqual(g.needs['evaluate.base'], ['build']);
    assert.deepEqual(g.needs['evaluate.trained'], ['train']);
    assert.match(formatGraphMermaid(g), /train -->\|checkpoint\| evaluate_trained/);
    assert.match(formatGraphText(g), /^evaluate\.trained +← train\.checkpoint$/m);
    // each evaluation is signed on its own config
    const sig = dagSignatures(spec);
    const other = recipe({
      evaluate: [{ ...(spec.evaluate as object[])[0]!, runs: 2 }, (spec.evaluate as object[])[1]!],
    });
    const sig2 = dagSignatures(other);
    assert.notEqual(sig['evaluate.base'], sig2['evaluate.base']);
    assert.equal(sig['evaluate.trained'], sig2['evaluate.trained']);
    // names are unique; a missing producer names the evaluation's path
    const dup = ExperimentSpec.safeParse({
      id: 'x',
      evaluate: [
        { name: 'a', policy: 'replay-gold', tasks: { path: 'p' } },
        { name: 'a', policy: 'replay-gold', tasks: { path: 'p' } },
      ],
    });
    assert.ok(!dup.success);
    assert.deepEqual(describeIssues(dup.error), [
      { path: 'evaluate[1].name', message: 'duplicate evaluation name "a"' },
    ]);
    // a bad field of a single evaluation is reported at its path, not as "invalid input" of a union
    const bad = ExperimentSpec.safeParse({
      id: 'x',
      evaluate: { policy: 'replay-gold', tasks: { path: 'p' }, runs: 'x' },
    });
    assert.ok(!bad.success);
    assert.deepEqual(
      describeIssues(bad.error).map((p) => p.path),
      ['evaluate.runs']
    );
    const { problems } = stageEdges(
      ExperimentSpec.parse({
        id: 'x',
        evaluate: [{ name: 'a', policy: 'replay-gold', tasks: { path: 'p' }, model: { checkpoint: '/m', serve: {} } }],
      })
    );
    assert.deepEqual(problems, []);
  });
});
