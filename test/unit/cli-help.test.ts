import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The real CLI (bin/bottega.mjs) in its own process; stdout. No server is needed for these. */
const bottega = (...args: string[]) =>
  execFileSync(process.execPath, ['bin/bottega.mjs', ...args], { encoding: 'utf8' });

describe('bottega --version and help', () => {
  it('--version prints the version in package.json', () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    assert.equal(bottega('--version').trim(), version);
    assert.equal(bottega('-v').trim(), version);
  });

  it('dev --help lists every service and action infra/dev.sh has', () => {
    const devSh = readFileSync('infra/dev.sh', 'utf8');
    const services = devSh
      .match(/^ALL_SERVICES=\(([^)]*)\)/m)?.[1]
      ?.trim()
      .split(/\s+/);
    assert.ok(services?.length, 'ALL_SERVICES in infra/dev.sh');
    // Its usage: `#   bash infra/dev.sh <action> ...` lines.
    const actions = [...devSh.matchAll(/^# +bash infra\/dev\.sh (\w+)/gm)].map((m) => m[1]!);
    assert.ok(actions.length >= 5, `actions in the usage of infra/dev.sh: ${actions.join(' ')}`);
    const help = bottega('dev', '--help');
    for (const s of services) assert.match(help, new RegExp(`^ {2}${s} +\\S`, 'm'), `service ${s} in:\n${help}`);
    for (const a of actions) assert.match(help, new RegExp(`^ {2}${a} +\\S`, 'm'), `action ${a} in:\n${help}`);
    assert.match(help, new RegExp(`action +${actions.join(' \\| ')}`));
  });

  it('run --help documents --force and --local-worker', () => {
    const help = bottega('run', '--help');
    assert.match(help, /--force <stages>/);
    assert.match(help, /--local-worker/);
  });

  it('run --force takes stage names or all; anything else exits 2 before connecting', () => {
    const r = spawnSync(process.execPath, ['bin/bottega.mjs', 'run', 'examples/github.yaml', '--force', 'mine,bogus'], {
      encoding: 'utf8',
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /--force: expected stage names separated by commas \(mine, build, rollout, mix, train, evaluate\) or all/
    );
  });
});
