import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { historyWarnings, locateServerLog, logOffset } from '../../bench/server-log';

const WARN =
  'time=2026-12-02T12:14:07.594 level=WARN msg="history count exceeds warn limit." service=history wf-id=w1 wf-event-count=21';

describe('locateServerLog (the sweep bench finds the log of the server it uses, or refuses)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bottega-server-log-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails loudly, naming the address and the fixes, when no log can be found', () => {
    // The old check read "<home>/logs/temporal.log" if it happened to exist and otherwise checked nothing.
    const home = join(dir, 'no-dev-sh');
    assert.throws(
      () => locateServerLog({ address: '127.0.0.1:7233', home }),
      /cannot find the log of the Temporal server at 127\.0\.0\.1:7233: no infra\/dev\.sh Temporal server is running.*--server-log FILE.*--own-server/
    );
  });

  it("does not take infra/dev.sh's log for a server on another port or host", async () => {
    const home = join(dir, 'dev-sh');
    mkdirSync(join(home, 'run'), { recursive: true });
    mkdirSync(join(home, 'logs'), { recursive: true });
    writeFileSync(join(home, 'logs', 'temporal.log'), 'started\n');
    // A live process standing in for the dev.sh server, with `--port 17998` on its command line.
    const fake = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '--', '--port', '17998'], {
      stdio: 'ignore',
    });
    try {
      writeFileSync(join(home, 'run', 'temporal.pid'), String(fake.pid));
      await new Promise((r) => setTimeout(r, 200)); // let /proc/<pid>/cmdline show node's arguments
      // The process's own --port wins over BOTTEGA_TEMPORAL_PORT's idea of it.
      assert.throws(
        () => locateServerLog({ address: '127.0.0.1:7233', home, devPort: 7233 }),
        /infra\/dev\.sh's server listens on port 17998, not 7233.*--server-log FILE/
      );
      assert.throws(() => locateServerLog({ address: 'temporal.example:17998', home }), /not on this machine/);
      const found = locateServerLog({ address: '127.0.0.1:17998', home, devPort: 7233 });
      assert.equal(found.file, join(home, 'logs', 'temporal.log'));
      assert.match(found.origin, /infra\/dev\.sh/);
    } finally {
      fake.kill('SIGKILL');
    }
  });

  it('takes --server-log when it exists and rejects a missing one', () => {
    const file = join(dir, 'external.log');
    writeFileSync(file, '');
    assert.deepEqual(locateServerLog({ address: 'temporal.example:7233', serverLog: file, home: dir }), {
      file,
      origin: '--server-log',
    });
    assert.throws(
      () => locateServerLog({ address: '127.0.0.1:7233', serverLog: join(dir, 'nope.log'), home: dir }),
      /--server-log .*nope\.log: no such file/
    );
  });
});

describe('historyWarnings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bottega-server-log-w-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads only what the run added, the whole log after a truncation, and fails when it vanished', () => {
    const log = { file: join(dir, 'temporal.log'), origin: 'test' };
    writeFileSync(log.file, `${WARN}\nother line\n`);
    const start = logOffset(log);
    assert.deepEqual(historyWarnings(log, start), []);
    appendFileSync(log.file, `noise\n${WARN.replace('count', 'size')}\n`);
    assert.equal(historyWarnings(log, start).length, 1);
    writeFileSync(log.file, `${WARN}\n`); // rotated: shorter than the offset
    assert.equal(historyWarnings(log, start).length, 1);
    rmSync(log.file);
    assert.throws(() => historyWarnings(log, start), /disappeared during the run/);
  });
});
