import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExperimentSpec, SweepSpec } from '../../contracts';
import { mergeNeeds, neededCapabilities, stageCapabilities } from '../../cli/capabilities';
import { loadSpecFile } from '../../cli/spec-file';
import { sweepNeeds } from '../../cli/sweep';
import { formatWait, missingWorkerLines, reminderLine, workerCommand } from '../../cli/worker-check';

/** The whole pipeline of the paper: every stage, evaluate serving the trained checkpoint on Slurm. */
function paperRecipe(): ExperimentSpec {
  const loaded = loadSpecFile('examples/paper-recipe.yaml');
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
  return loaded.spec;
}

describe('which workers an experiment needs', () => {
  it('the whole pipeline: cpu for the workflows and every stage, docker for containers, slurm for jobs', () => {
    assert.deepEqual(neededCapabilities(paperRecipe()), {
      cpu: ['workflows', 'mine', 'build', 'rollout', 'mix', 'train', 'evaluate'],
      docker: ['build', 'rollout', 'evaluate'],
      slurm: ['train', 'evaluate'],
    });
  });

  it('mine and mix need only cpu', () => {
    const { build: _b, rollout: _r, train: _t, evaluate: _e, ...rest } = paperRecipe();
    assert.deepEqual(neededCapabilities(rest as ExperimentSpec), { cpu: ['workflows', 'mine', 'mix'] });
  });

  it('evaluate needs slurm only to serve a checkpoint; replay-gold and endpoints need docker', () => {
    const spec = paperRecipe();
    assert.deepEqual(stageCapabilities(spec, 'evaluate'), ['cpu', 'docker', 'slurm']);
    const endpoint = ExperimentSpec.parse({
      ...spec,
      evaluate: { ...spec.evaluate, model: { endpoint: 'http://127.0.0.1:8000/v1', model: 'm' } },
    });
    assert.deepEqual(stageCapabilities(endpoint, 'evaluate'), ['cpu', 'docker']);
    const gold = ExperimentSpec.parse({ ...spec, evaluate: { ...spec.evaluate, policy: 'replay-gold' } });
    assert.deepEqual(stageCapabilities(gold, 'evaluate'), ['cpu', 'docker']);
  });

  it('only the stages still to run count', () => {
    assert.deepEqual(neededCapabilities(paperRecipe(), ['mix', 'train']), {
      cpu: ['workflows', 'mix', 'train'],
      slurm: ['train'],
    });
    assert.deepEqual(neededCapabilities(paperRecipe(), []), { cpu: ['workflows'] });
  });

  it('a sweep needs what its arms need, together, in pipeline order', () => {
    assert.deepEqual(
      mergeNeeds([
        { cpu: ['workflows', 'mix'], slurm: ['train'] },
        { cpu: ['workflows', 'mine'], docker: ['build'] },
      ]),
      { cpu: ['workflows', 'mine', 'mix'], docker: ['build'], slurm: ['train'] }
    );
    const { id: _id, ...base } = paperRecipe();
    const sweep = SweepSpec.parse({ id: 'sw', base, grid: { 'mix.seed': [1, 2] } });
    assert.deepEqual(sweepNeeds(sweep), neededCapabilities(paperRecipe()));
  });
});

describe('what the CLI says when a worker is missing', () => {
  it('names each queue, what waits for it, and the command that starts a worker for all of them', () => {
    const needs = neededCapabilities(paperRecipe());
    assert.deepEqual(missingWorkerLines(['docker', 'slurm'], needs), [
      'no worker polls bottega-docker (needed by build, rollout, evaluate): nothing runs there until one starts.',
      'no worker polls bottega-slurm (needed by train, evaluate): nothing runs there until one starts.',
      '  start them on a host with Docker and Slurm access: BOTTEGA_WORKER_CAPABILITIES=docker,slurm npm run worker (or: bottega worker --capabilities docker,slurm)',
    ]);
    assert.deepEqual(missingWorkerLines(['cpu'], { cpu: ['workflows', 'mine'] }), [
      'no worker polls bottega-cpu (needed by workflows, mine): nothing runs there until one starts.',
      '  start one: BOTTEGA_WORKER_CAPABILITIES=cpu npm run worker (or: bottega worker --capabilities cpu)',
    ]);
    assert.deepEqual(missingWorkerLines([], needs), []);
    assert.equal(workerCommand(['docker']), 'BOTTEGA_WORKER_CAPABILITIES=docker npm run worker');
  });

  it('reminds in one line, with the time waited to the half minute', () => {
    assert.equal(
      reminderLine(['cpu', 'docker'], 95_000),
      'still no worker on bottega-cpu, bottega-docker after 1m30s: BOTTEGA_WORKER_CAPABILITIES=cpu,docker npm run worker'
    );
    assert.deepEqual([29_999, 30_000, 60_000, 125_000, 3_600_000].map(formatWait), ['0s', '30s', '1m', '2m', '60m']);
  });
});
