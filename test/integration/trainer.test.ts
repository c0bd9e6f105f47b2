import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupFailed } from '../helpers/prereq';

/**
 * The bundled reference trainer (infra/trainer), run for real on CPU: a random-init 2-layer Qwen2
 * (hidden 64; 512-id vocabulary, the fixture ids are all < 512) on fixture shards written in the
 * mix stage's format (docs/shards.md). `infra/trainer/setup.sh` builds the torch venv first (about
 * 2 min the first time, well under a second after); a failed setup fails the suite (a skip only with
 * BOTTEGA_TEST_ALLOW_MISSING=trainer).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const trainerDir = join(root, 'infra/trainer');

const setup = spawnSync('bash', [join(trainerDir, 'setup.sh')], { encoding: 'utf8', timeout: 900_000 });
const python = setup.status === 0 ? setup.stdout.trim().split('\n').pop()! : '';
const skip =
  setup.status !== 0
    ? setupFailed('trainer', `infra/trainer/setup.sh exited ${setup.status}: ${setup.stderr.trim().split('\n').pop()}`)
    : false;

const ARGS = [
  '--model-config',
  'tiny-512',
  '--global-batch',
  '8',
  '--micro-batch',
  '4',
  '--lr',
  '3e-3',
  '--warmup',
  '0.1',
  '--epochs',
  '2',
  '--threads',
  '1',
  '--print-every',
  '1000',
];

interface Run {
  code: number | null;
  out: string;
}

function trainer(
  args: string[],
  env: Record<string, string> = {},
  script = 'train.py'
): Promise<Run> & { pid: () => number } {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('BOTTEGA_TRAINER_STOP_AFTER_STEPS' in env)) delete e.BOTTEGA_TRAINER_STOP_AFTER_STEPS;
  const child = spawn(python, [join(trainerDir, script), ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const p = new Promise<Run>((res) => child.on('close', (code) => res({ code, out }))) as Promise<Run> & {
    pid: () => number;
  };
  p.pid = () => child.pid!;
  return p;
}

type Rec = Record<string, number | string | null>;
const records = (file: string): Rec[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);
const steps = (runDir: string) => records(join(runDir, 'metrics.jsonl')).filter((r) => r.event === 'step');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const finalCheckpoint = (runDir: string) => {
  const dirs = readdirSync(join(runDir, 'checkpoints'))
    .filter((d) => d.startsWith('step-'))
    .sort();
  return join(runDir, 'checkpoints', dirs.at(-1)!);
};

function assertContiguous(recs: Rec[], total: number) {
  assert.equal(recs[0]!.first_sample, 0);
  for (let i = 1; i < recs.length; i++) {
    assert.equal(recs[i]!.step, (recs[i - 1]!.step as number) + 1);
    assert.equal(
      recs[i]!.first_sample,
      (recs[i - 1]!.last_sample as number) + 1,
      `gap or repeat before step ${recs[i]!.step}`
    );
  }
  assert.equal(recs.at(-1)!.last_sample, total - 1);
}

describe('reference trainer (torch on CPU, fixture shards)', { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'bottega-trainer-'));
  const data = join(work, 'mt');
  const base = join(work, 'base');
  let sequences = 0;

  before(async () => {
    assert.equal(setup.status, 0, `setup.sh failed (exit ${setup.status}):\n${setup.stderr}`);
    const gen = spawnSync(
      python,
      [join(trainerDir, 'shards.py'), data, '--docs', '96', '--seq-len', '64', '--vocab', '512'],
      {
        encoding: 'utf8',
      }
    );
    assert.equal(gen.status, 0, gen.stderr);
    sequences = (JSON.parse(gen.stdout) as { sequences: number }).sequences;
    const r = await trainer(['--data', data, '--output', base, ...ARGS]);
    assert.equal(r.code, 0, r.out);
  });

  it('trains: the loss drops; metrics, complete checkpoint and exit file are written', () => {
    const recs = steps(base);
    assert.equal(recs.length, Math.ceil((2 * sequences) / 8));
    const mean = (xs: Rec[]) => xs.reduce((s, r) => s + (r.loss as number), 0) / xs.length;
    const first = mean(recs.slice(0, 3));
    const last = mean(recs.slice(-3));
    assert.ok(last < first - 1.5, `loss ${first} -> ${last}`);
    for (const k of ['epoch', 'first_sample', 'last_sample', 'loss', 'lr', 'tokens', 'tokens_per_s', 'elapsed_s'])
      assert.ok(k in recs[0]!, k);
    assertContiguous(recs, 2 * sequences);
    const all = records(join(base, 'metrics.jsonl'));
    assert.equal(all.at(-1)!.event, 'summary');
    const ck = finalCheckpoint(base);
    for (const f of [
      'COMPLETE',
      'model.safetensors',
      'config.json',
      'optimizer.pt',
      'trainer_state.json',
      'rng-rank00000.pt',
    ])
      assert.ok(existsSync(join(ck, f)), f);
    const marker = JSON.parse(readFileSync(join(ck, 'COMPLETE'), 'utf8')) as { step: number };
    assert.equal(marker.step, recs.length);
    assert.equal(
      (JSON.parse(readFileSync(join(base, 'trainer-exit.json'), 'utf8')) as { exit_code: number }).exit_code,
      0
    );
  });

  it('SIGUSR2 mid-run: checkpoint, exit 75; the resumed run ends with the same weights, no repeated or skipped sample', async () => {
    const out = join(work, 'usr2');
    const run = trainer(['--data', data, '--output', out, ...ARGS], { SLOW_STEP_S: '0.15' }, 'tests/slow_train.py');
    const metrics = join(out, 'metrics.jsonl');
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (existsSync(metrics) && records(metrics).filter((r) => r.event === 'step').length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(run.pid(), 'SIGUSR2');
    const r = await run;
    assert.equal(r.code, 75, r.out);
    const stopped = records(metrics).filter((x) => x.event === 'stopped');
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0]!.reason, 'SIGUSR2');
    assert.ok((stopped[0]!.step as number) < steps(base).length, 'stopped before the end');
    const again = await trainer(['--data', data, '--output', out, ...ARGS]);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /resumed from .*step-/);
    assert.equal(
      sha(join(finalCheckpoint(out), 'model.safetensors')),
      sha(join(finalCheckpoint(base), 'model.safetensors'))
    );
    assertContiguous(steps(out), 2 * sequences);
    assert.deepEqual(
      steps(out).map((x) => x.loss),
      steps(base).map((x) => x.loss)
    );
  });

  it('simulated preemption (BOTTEGA_TRAINER_STOP_AFTER_STEPS): requeued twice, same final weights', async () => {
    const out = join(work, 'knob');
    const codes: (number | null)[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await trainer(['--data', data, '--output', out, ...ARGS, '--save-every', '5'], {
        BOTTEGA_TRAINER_STOP_AFTER_STEPS: '12',
      });
      codes.push(r.code);
      if (r.code !== 75) break;
    }
    assert.deepEqual(codes, [75, 75, 0]);
    assert.equal(
      sha(join(finalCheckpoint(out), 'model.safetensors')),
      sha(join(finalCheckpoint(base), 'model.safetensors'))
    );
    assertContiguous(steps(out), 2 * sequences);
  });

  it('masked loss: only mask=1 target tokens count (checked by hand)', async () => {
    const sft = join(work, 'sft');
    const gen = spawnSync(
      python,
      [
        join(trainerDir, 'shards.py'),
        sft,
        '--docs',
        '20',
        '--seq-len',
        '48',
        '--loss-mask',
        'sft',
        '--no-pack',
        '--seed',
        '3',
      ],
      { encoding: 'utf8' }
    );
    assert.equal(gen.status, 0, gen.stderr);
    const out = join(work, 'sft-run');
    const r = await trainer([
      '--data',
      sft,
      '--output',
      out,
      '--model-config',
      'tiny-512',
      '--global-batch',
      '6',
      '--micro-batch',
      '4',
      '--max-steps',
      '1',
      '--threads',
      '1',
      '--seed',
      '5',
    ]);
    assert.equal(r.code, 0, r.out);
    const chk = spawnSync(
      python,
      [
        join(trainerDir, 'tests/masked_loss.py'),
        '--data',
        sft,
        '--metrics',
        join(out, 'metrics.jsonl'),
        '--model-config',
        'tiny-512',
        '--seed',
        '5',
      ],
      { encoding: 'utf8' }
    );
    assert.equal(chk.status, 0, chk.stderr);
    const m = JSON.parse(chk.stdout) as {
      reported_loss: number;
      reported_loss_tokens: number;
      manual_loss: number;
      manual_loss_tokens: number;
      all_tokens_loss: number;
      all_tokens: number;
    };
    assert.equal(m.reported_loss_tokens, m.manual_loss_tokens);
    assert.ok(m.manual_loss_tokens < 0.7 * m.all_tokens, 'the SFT mask leaves out about half the tokens');
    assert.ok(Math.abs(m.reported_loss - m.manual_loss) < 1e-4, `${m.reported_loss} vs ${m.manual_loss}`);
    assert.ok(Math.abs(m.reported_loss - m.all_tokens_loss) > 1e-3);
  });

  it('errors name the flag or file, with distinct exit codes', async () => {
    const out = join(work, 'err');
    let r = await trainer(['--data', data, '--output', out, ...ARGS, '--warmup', '1.5']);
    assert.equal(r.code, 2);
    assert.match(r.out, /--warmup/);
    r = await trainer(['--data', join(work, 'absent'), '--output', out, ...ARGS]);
    assert.equal(r.code, 3);
    assert.match(r.out, /absent/);
  });
});
