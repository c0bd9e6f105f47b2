import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graphCommand, dryRunText } from '../../cli/graph';
import { loadSpecFile } from '../../cli/spec-file';

/**
 * `bottega graph SPEC [--mermaid|--json]` on the examples: the experiment's DAG as text, Mermaid and
 * JSON from the spec alone; an invalid spec exits 2 with one `path: message` line per problem.
 */
const PAPER = 'examples/paper-recipe.yaml';
const tmp = mkdtempSync(join(tmpdir(), 'bottega-cli-graph-'));

/** Runs graphCommand, collecting what it prints. */
function graph(file: string, flags: { mermaid?: boolean; json?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = graphCommand(file, flags, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The CLI in its own process (no server needed: graph never connects). */
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['bin/bottega.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
  });

const PAPER_TEXT = [
  'mine     (no stage inputs: starts at once)',
  'build    ← mine.tasks',
  'rollout  ← build.tasks',
  'mix      ← mine.general+python, rollout.pass+fail',
  'train    ← mix.manifests',
  'evaluate ← train.checkpoint',
].join('\n');

describe('bottega graph', () => {
  it('prints the graph of examples/paper-recipe.yaml as text (the CLI process too)', () => {
    const r = graph(PAPER);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, PAPER_TEXT);
    const p = cli(['graph', PAPER]);
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, `${PAPER_TEXT}\n`);
  });

  it('prints a Mermaid flowchart with one node per stage and one labelled arrow per edge', () => {
    const r = graph(PAPER, { mermaid: true });
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'flowchart LR',
        '  mine["mine"]',
        '  build["build"]',
        '  rollout["rollout"]',
        '  mix["mix"]',
        '  train["train"]',
        '  evaluate["evaluate"]',
        '  mine -->|tasks| build',
        '  build -->|tasks| rollout',
        '  mine -->|general, python| mix',
        '  rollout -->|pass, fail| mix',
        '  mix -->|manifests| train',
        '  train -->|checkpoint| evaluate',
      ].join('\n')
    );
    assert.equal(cli(['graph', PAPER, '--mermaid']).stdout, `${r.out}\n`);
  });

  it('prints JSON {order, needs, edges}', () => {
    const r = graph(PAPER, { json: true });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      order: ['mine', 'build', 'rollout', 'mix', 'train', 'evaluate'],
      needs: {
        mine: [],
        build: ['mine'],
        rollout: ['build'],
        mix: ['mine', 'rollout'],
        train: ['mix'],
        evaluate: ['train'],
      },
      edges: [
        { from: 'mine', to: 'build', what: ['tasks'] },
        { from: 'build', to: 'rollout', what: ['tasks'] },
        { from: 'mine', to: 'mix', what: ['general', 'python'] },
        { from: 'rollout', to: 'mix', what: ['pass', 'fail'] },
        { from: 'mix', to: 'train', what: ['manifests'] },
        { from: 'train', to: 'evaluate', what: ['checkpoint'] },
      ],
    });
    const p = cli(['graph', PAPER, '--json']);
    assert.deepEqual(JSON.parse(p.stdout), JSON.parse(r.out));
  });

  it('names independent branches that start side by side', () => {
    const file = join(tmp, 'branches.json');
    const data = join(tmp, 'docs.jsonl');
    writeFileSync(data, '{"id":"a","text":"x"}\n');
    writeFileSync(
      file,
      JSON.stringify({
        id: 'exp-branches',
        mine: { sources: [{ type: 'github', repo: 'acme/widgets' }] },
        mix: {
          sources: [{ name: 'docs', path: data }],
          stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'docs' }] }],
        },
      })
    );
    const r = graph(file);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'mine     (no stage inputs: starts at once)',
        'mix      (no stage inputs: starts at once)',
        'run side by side from the start: mine, mix',
      ].join('\n')
    );
  });

  it('exits 2 naming the spec path of a stage whose producer is missing', () => {
    const file = join(tmp, 'no-build.json');
    writeFileSync(file, JSON.stringify({ id: 'exp-no-build', rollout: { policy: 'replay-gold' } }));
    const loaded = loadSpecFile(file);
    assert.equal(loaded.ok, false);
    const r = graph(file);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    const lines = r.err.split('\n');
    assert.equal(lines[0], `${file}: invalid experiment spec`);
    assert.ok(
      lines.includes('rollout: rollout reads tasks from the build stage, but the experiment has none (add `build`)'),
      r.err
    );
    const p = cli(['graph', file]);
    assert.equal(p.status, 2, p.stderr);
    assert.equal(p.stdout, '');
    assert.ok(p.stderr.startsWith(`${file}: invalid experiment spec\n`), p.stderr);
  });

  it('exits 2 for a file that is not there, and for --json with --mermaid', () => {
    const r = graph(join(tmp, 'missing.yaml'));
    assert.equal(r.code, 2);
    assert.match(r.err, /missing\.yaml: no such file/);
    assert.equal(graph(PAPER, { json: true, mermaid: true }).code, 2);
  });

  it('dry run text: the experiment, how it is scheduled, what is forced, then the graph', () => {
    const loaded = loadSpecFile(PAPER);
    assert.ok(loaded.ok);
    loaded.spec.force = ['train'];
    const r = dryRunText(loaded.spec);
    assert.ok(r.ok);
    assert.equal(
      r.text,
      'dry run: experiment exp-davinci-recipe would run with schedule: dag, on_failure: continue, forcing train (nothing started)\n' +
        PAPER_TEXT
    );
  });
});
