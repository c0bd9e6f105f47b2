import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '../../cli/spec-file';
import { experimentJsonSchema } from '../../cli/schema';

const dir = mkdtempSync(join(tmpdir(), 'bottega-spec-'));
mkdirSync(join(dir, 'repo'));

describe('spec validation', () => {
  it('reports the path and what was expected for a bad repo name', () => {
    const r = validateSpec({ id: 'exp-1', mine: { sources: [{ type: 'git', repo: 'foo', path: 'repo' }] } }, dir);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => `${p.path}: ${p.message}`),
      ['mine.sources[0].repo: expected "owner/name", got "foo"']
    );
  });

  it('rejects unknown keys instead of ignoring them', () => {
    const r = validateSpec(
      { id: 'exp-1', mine: { sources: [{ type: 'git', repo: 'a/b', path: 'repo' }], page_sise: 3 } },
      dir
    );
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.path, 'mine.page_sise');
    assert.match(r.problems[0]!.message, /unknown key/);
  });

  it('lists every problem, one per line', () => {
    const r = validateSpec({ id: 'Bad Id', force: ['nope'], mine: { sources: [] } }, dir);
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => p.path).sort(), ['force[0]', 'id', 'mine.sources']);
  });

  it('names the bad discriminator of a source', () => {
    const r = validateSpec({ id: 'e', mine: { sources: [{ type: 'svn', repo: 'a/b' }] } }, dir);
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.path, 'mine.sources[0].type');
  });

  it('resolves relative paths against the spec directory and checks they exist', () => {
    const ok = validateSpec({ id: 'e', mine: { sources: [{ type: 'git', repo: 'a/b', path: 'repo' }] } }, dir);
    assert.ok(ok.ok);
    assert.equal(ok.spec.mine?.sources[0]?.type === 'git' && ok.spec.mine.sources[0].path, join(dir, 'repo'));
    const missing = validateSpec({ id: 'e', mine: { sources: [{ type: 'git', repo: 'a/b', path: 'nope' }] } }, dir);
    assert.ok(!missing.ok);
    assert.equal(missing.problems[0]?.path, 'mine.sources[0].path');
  });

  it('applies the paper defaults', () => {
    const r = validateSpec({ id: 'e', mine: { sources: [{ type: 'git', repo: 'a/b', path: 'repo' }] } }, dir);
    assert.ok(r.ok);
    const m = r.spec.mine!;
    assert.equal(m.max_tokens, 32768);
    assert.equal(m.filters.python.max_python_files, 5);
    assert.equal(m.filters.python.max_files, 20);
    assert.equal(m.filters.decontaminate_repos.length, 12);
    assert.deepEqual(m.formats, ['python', 'general']);
  });
});

describe('examples/', () => {
  it('every example spec is valid', async () => {
    const { readdirSync } = await import('node:fs');
    const { readSpecFile } = await import('../../cli/spec-file');
    const { ExperimentSpec } = await import('../../contracts');
    const files = readdirSync('examples').filter((f) => /\.(ya?ml|json)$/.test(f) && !f.includes('schema'));
    assert.ok(files.length >= 3);
    for (const f of files) {
      const read = readSpecFile(join('examples', f));
      assert.ok(read.ok, f);
      const r = ExperimentSpec.safeParse(read.value);
      assert.ok(r.success, `${f}: ${r.error?.message}`);
    }
  });
});

describe('examples/sweeps/', () => {
  it('every example sweep expands into valid experiments', async () => {
    const { readdirSync } = await import('node:fs');
    const { dirname, resolve } = await import('node:path');
    const { readSpecFile } = await import('../../cli/spec-file');
    const { ExperimentSpec, SweepSpec, expandSweep } = await import('../../contracts');
    const files = readdirSync('examples/sweeps').filter((f) => /\.ya?ml$/.test(f));
    assert.ok(files.length >= 3);
    for (const f of files) {
      const file = join('examples/sweeps', f);
      const read = readSpecFile(file);
      assert.ok(read.ok, f);
      const raw = read.value as { base: string };
      const base = readSpecFile(resolve(dirname(file), raw.base));
      assert.ok(base.ok, `${f}: base ${raw.base}`);
      const { id: _id, ...rest } = base.value as Record<string, unknown>;
      const sweep = SweepSpec.parse({ ...raw, base: rest });
      const arms = expandSweep(sweep);
      assert.ok(arms.length >= 3, `${f}: ${arms.length} arms`);
      for (const a of arms) {
        const r = ExperimentSpec.safeParse(a.spec);
        assert.ok(r.success, `${f} arm ${a.name}: ${r.error?.message}`);
      }
    }
  });
});

describe('bottega CLI', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['bin/bottega.mjs', ...args], {
      encoding: 'utf8',
      // A dead address: validation must fail before any connection is attempted.
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });

  it('`run` exits 2 with one line per problem, without a server', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'id: exp-bad\nmine:\n  sources:\n    - type: git\n      repo: foo\n      path: repo\n  colour: blue\n'
    );
    const r = cli(['run', file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^mine\.sources\[0\]\.repo: expected "owner\/name", got "foo"$/m);
    assert.match(r.stderr, /^mine\.colour: unknown key/m);
    assert.doesNotMatch(r.stderr, /cannot reach/);
  });

  it('`run` reports an unreadable file clearly', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'id: [unclosed\n');
    const r = cli(['run', file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not valid YAML/);
  });

  it('`schema` prints the JSON Schema, and examples/experiment.schema.json is up to date', async () => {
    const r = cli(['schema']);
    assert.equal(r.status, 0, r.stderr);
    const schema = JSON.parse(r.stdout) as { additionalProperties: boolean; properties: Record<string, unknown> };
    assert.deepEqual(schema, experimentJsonSchema());
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties.mine);
    const { readFileSync } = await import('node:fs');
    assert.deepEqual(
      JSON.parse(readFileSync('examples/experiment.schema.json', 'utf8')),
      schema,
      'regenerate it: npm run schema'
    );
  });
});
