import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ExperimentResult, type ExperimentSpecInput } from '../../contracts';
import { prerequisites } from '../helpers/prereq';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * An experiment that completes but produced nothing somewhere, through the real CLI (its own
 * process) against a private Temporal dev server: a mix source whose every record is invalid is a
 * warning in the summary `run --wait` prints (exit 0), in the `--json` result, and makes
 * `run --strict` exit 4, also when the mix stage comes from the step cache; a run without such a
 * source exits 0 under `--strict`. The valid source starts with a UTF-8 BOM, which is not an
 * invalid record.
 */
const skip = await prerequisites('temporal');
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
const home = mkdtempSync(join(tmpdir(), 'bottega-it-empty-run-'));
const spawned: ChildProcess[] = [];

const good = join(home, 'good.jsonl');
const bad = join(home, 'bad.jsonl');

/** A mix-only experiment over local files, written as a spec file with a store of this test's own. */
function specFile(id: string, sources: { name: string; path: string; format?: 'text' }[]): string {
  const spec: ExperimentSpecInput = {
    id,
    store: { uri: `file://${join(home, 'artifacts')}` },
    mix: {
      seed: 1,
      sources,
      stages: [{ name: 'mt1', seq_len: 64, sources: sources.map((s) => ({ source: s.name })) }],
    },
  };
  const file = join(home, `${id}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

/** Runs the CLI to its end; resolves with its exit code and output. */
function cli(args: string[]) {
  const e = { ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', BOTTEGA_HOME: home };
  return spawnCli(args, e, (p) => spawned.push(p));
}

describe('a run that produced nothing (real CLI, real Temporal dev server)', { skip }, () => {
  before(async () => {
    env = await startTemporal();
    workers = await runWorkers(env, home, ['cpu']);
    // The first record follows a BOM, as Notepad or an Excel export writes it.
    writeFileSync(
      good,
      '\uFEFF' +
        ['alpha beta gamma delta', 'the quick brown fox jumps', 'lorem ipsum dolor sit amet']
          .map((text, i) => JSON.stringify({ id: `g${i}`, text }))
          .join('\n') +
        '\n'
    );
    // Every record invalid: not JSON, not an object, no "text" field.
    writeFileSync(bad, 'not json at all\n[1, 2, 3]\n{"body": "no text field"}\n');
  });
  after(async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await workers?.stop();
    await env?.teardown();
  });

  it('warns in the summary, exits 0 without --strict and 4 with it (cached stage too)', async () => {
    const file = specFile('exp-it-empty-mix', [
      { name: 'good', path: good },
      { name: 'bad', path: bad, format: 'text' },
    ]);
    const plain = await cli(['run', file, '--wait']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      /warnings: 1 \(the run completed but produced nothing here; `bottega run --strict` exits 4\)/
    );
    assert.match(
      plain.stdout,
      /warning: mix: every record of source "bad" is invalid \(3 of 3\); the removal report lists each/
    );
    assert.doesNotMatch(plain.stdout, /source "good"/, 'the BOM-led source is read in full');

    // Same inputs under another id: the mix stage comes from the step cache and warns the same.
    const strict = await cli(['run', file, '--strict', '--json', '--id', 'exp-it-empty-mix-strict']);
    assert.equal(strict.code, 4, strict.stderr);
    const result = ExperimentResult.parse(JSON.parse(strict.stdout));
    assert.equal(result.stages.mix!.status, 'cached');
    assert.deepEqual(
      result.warnings?.map((w) => [w.stage, w.code]),
      [['mix', 'source_invalid']]
    );
    const mix = result.stages.mix!.result as { summary: { sources: Record<string, { documents_kept: number }> } };
    assert.equal(mix.summary.sources.good!.documents_kept, 3, 'the record after the BOM is not invalid');
  });

  it('--strict exits 0 when every stage produced something', async () => {
    const r = await cli(['run', specFile('exp-it-full-mix', [{ name: 'good', path: good }]), '--strict']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /warning/);
    assert.match(r.stdout, /stage mt1: \d+ sequences/);
  });
});
