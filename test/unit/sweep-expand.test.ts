import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExperimentSpec,
  SweepSpec,
  expandSweep,
  gridCombinations,
  setSpecPath,
  stageSignatures,
  stableJson,
} from '../../contracts';
import { loadSweepFile } from '../../cli/sweep';

const MIX = {
  sources: [{ name: 'general_prs', path: '/data/general.jsonl' }],
  stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] }],
};

describe('sweep expansion', () => {
  it('crosses listed arms with the grid, keys sorted, deterministically', () => {
    const sweep = SweepSpec.parse({
      id: 'abl',
      base: { mix: MIX },
      arms: [
        { name: 'a', set: { 'mix.seed': 1 } },
        { name: 'b', set: { 'mix.seed': 2 } },
      ],
      // Keys out of order on purpose: expansion sorts them.
      grid: { 'mix.stages.0.seq_len': [512, 2048], 'mix.stages.0.sources.0.repeat': [1, 3] },
    });
    const arms = expandSweep(sweep);
    assert.equal(arms.length, 8);
    assert.deepEqual(
      arms.map((a) => a.id),
      ['abl-00', 'abl-01', 'abl-02', 'abl-03', 'abl-04', 'abl-05', 'abl-06', 'abl-07']
    );
    // Sorted keys: "mix.stages.0.seq_len" < "mix.stages.0.sources..." so seq_len varies slowest.
    assert.deepEqual(arms[1]!.params, {
      'mix.seed': 1,
      'mix.stages.0.seq_len': 512,
      'mix.stages.0.sources.0.repeat': 3,
    });
    assert.equal(arms[5]!.name, 'b · mix.stages.0.seq_len=512, mix.stages.0.sources.0.repeat=3');
    const spec = ExperimentSpec.parse(arms[5]!.spec);
    assert.equal(spec.id, 'abl-05');
    assert.equal(spec.sweep_id, 'abl');
    assert.equal(spec.mix!.seed, 2);
    assert.equal(spec.mix!.stages[0]!.sources[0]!.repeat, 3);
    // The base is not mutated; expansion is a pure function.
    assert.equal((sweep.base.mix as typeof MIX).stages[0]!.seq_len, 1024);
    assert.equal(stableJson(expandSweep(sweep)), stableJson(arms));
  });

  it('grid combinations vary the last sorted key fastest', () => {
    assert.deepEqual(gridCombinations({ b: [1, 2], a: ['x', 'y'] }), [
      { a: 'x', b: 1 },
      { a: 'x', b: 2 },
      { a: 'y', b: 1 },
      { a: 'y', b: 2 },
    ]);
  });

  it('sets, creates and removes paths, and names the path it cannot set', () => {
    const o: Record<string, unknown> = { a: { list: [{ x: 1 }] }, gone: 1 };
    setSpecPath(o, 'a.list.0.x', 5);
    setSpecPath(o, 'a.new.deep', true);
    setSpecPath(o, 'gone', null);
    assert.deepEqual(o, { a: { list: [{ x: 5 }], new: { deep: true } } });
    assert.throws(() => setSpecPath(o, 'a.list.x', 1), /a\.list\.x: "a\.list" is a list/);
    assert.throws(() => setSpecPath(o, 'a.list.3.x', 1), /index 3 is past the end/);
    assert.throws(
      () => expandSweep(SweepSpec.parse({ id: 's', base: { a: [1] }, arms: [{ name: 'bad', set: { 'a.b': 1 } }] })),
      /arm 0 \(bad\): a\.b/
    );
  });

  it('gives equal signatures to equal stage inputs and separates the rest', () => {
    const base = { mine: { sources: [{ type: 'git', repo: 'o/r', path: '/r' }] }, mix: MIX };
    const sweep = SweepSpec.parse({
      id: 'sig',
      base,
      arms: [
        { name: 'r1', set: { 'mix.stages.0.sources.0.repeat': 1 } },
        { name: 'r2', set: { 'mix.stages.0.sources.0.repeat': 2 } },
        { name: 'other-mine', set: { 'mine.page_size': 7 } },
        { name: 'forced', set: { force: ['mine'] } },
      ],
    });
    const [a, b, c, d] = expandSweep(sweep).map((x) => stageSignatures(ExperimentSpec.parse(x.spec)));
    assert.equal(a!.mine, b!.mine);
    assert.notEqual(a!.mix, b!.mix);
    assert.notEqual(a!.mine, c!.mine);
    assert.notEqual(c!.mix, a!.mix);
    assert.notEqual(d!.mine, a!.mine);
    assert.equal(a!.build, undefined);
  });

  it('rejects a sweep without arms or grid, a base with an id, and duplicate arm names', () => {
    const r = SweepSpec.safeParse({ id: 'x', base: { id: 'e' }, arms: [] });
    assert.equal(r.success, false);
    const msgs = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(msgs.some((m) => m.startsWith('grid: a sweep needs')));
    assert.ok(msgs.some((m) => m.startsWith('base.id:')));
    const dup = SweepSpec.safeParse({ id: 'x', base: {}, arms: [{ name: 'a' }, { name: 'a' }] });
    assert.match(dup.error!.issues[0]!.message, /duplicate arm name "a"/);
  });
});

describe('loadSweepFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bottega-sweep-file-'));
  writeFileSync(join(dir, 'data.jsonl'), '{"id":"1","text":"x"}\n');
  writeFileSync(
    join(dir, 'base.yaml'),
    'id: some-base\nmix:\n  sources: [{name: general_prs, path: data.jsonl}]\n  stages: [{name: mt1, seq_len: 1024, sources: [{source: general_prs}]}]\n'
  );

  it('inlines a base file (dropping its id), resolves its paths and validates every arm', () => {
    writeFileSync(join(dir, 'ok.yaml'), 'id: sw\nbase: base.yaml\ngrid:\n  mix.stages.0.sources.0.repeat: [1, 2]\n');
    const r = loadSweepFile(join(dir, 'ok.yaml'));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.equal(r.arms, 2);
    assert.equal('id' in r.sweep.base, false);
    assert.equal((r.sweep.base.mix as { sources: { path: string }[] }).sources[0]!.path, join(dir, 'data.jsonl'));
  });

  it('names the arm and the path of an invalid arm', () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      'id: sw\nbase: base.yaml\narms:\n  - {name: fine}\n  - {name: broken, set: {mix.stages.0.seq_len: 3}}\n'
    );
    const r = loadSweepFile(join(dir, 'bad.yaml'));
    assert.equal(r.ok, false);
    assert.match(JSON.stringify(!r.ok && r.problems), /arm 1 \(broken\): mix\.stages\[0\]\.seq_len.*>=16/);
  });
});
