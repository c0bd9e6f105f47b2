import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { experimentLogDestination, safePathPart, stageLogPath } from '../../activities/log-files';

const readLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('experiment log files', () => {
  it('appends lines with experimentId and stage to one file per experiment and stage', () => {
    const home = mkdtempSync(join(tmpdir(), 'bottega-logs-'));
    const log = pino({ base: null }, experimentLogDestination({ home: () => home }));
    log.child({ experimentId: 'exp-1', stage: 'mine' }).info({ repo: 'a/b' }, 'page mined');
    log.child({ experimentId: 'exp-1', stage: 'mine' }).warn('slow');
    log.child({ experimentId: 'exp-1', stage: 'build' }).info('built');
    log.child({ experimentId: 'exp-2', stage: 'mine' }).info('other');
    log.info({ experimentId: 'exp-1' }, 'no stage: not written');
    log.info('neither');

    const mine = readLines(join(home, 'logs', 'experiments', 'exp-1', 'mine.jsonl'));
    assert.deepEqual(
      mine.map((l) => l.msg),
      ['page mined', 'slow']
    );
    assert.equal(mine[0]!.repo, 'a/b');
    assert.deepEqual(
      readLines(stageLogPath(home, 'exp-1', 'build')).map((l) => l.msg),
      ['built']
    );
    assert.deepEqual(
      readLines(stageLogPath(home, 'exp-2', 'mine')).map((l) => l.msg),
      ['other']
    );
    assert.deepEqual(readdirSync(join(home, 'logs', 'experiments')).sort(), ['exp-1', 'exp-2']);
  });

  it('keeps odd ids inside the log directory and apart from each other', () => {
    const home = mkdtempSync(join(tmpdir(), 'bottega-logs-'));
    const dest = experimentLogDestination({ home: () => home });
    const odd = ['../../escape', 'a/b', 'a_b', '..', '', 'sp ace:ü', 'x'.repeat(300)];
    for (const id of odd) dest.write(`${JSON.stringify({ level: 30, experimentId: id, stage: '../st', msg: id })}\n`);
    const dirs = readdirSync(join(home, 'logs', 'experiments'));
    // The empty id is not written; every other id gets its own directory under the root.
    assert.equal(dirs.length, odd.length - 1);
    for (const id of odd.filter(Boolean)) {
      const path = stageLogPath(home, id, '../st');
      assert.ok(path.startsWith(join(home, 'logs', 'experiments') + '/'), path);
      assert.deepEqual(
        readLines(path).map((l) => l.msg),
        [id]
      );
    }
    assert.equal(safePathPart('exp-1.v2_x'), 'exp-1.v2_x', 'safe ids are kept as they are');
    assert.notEqual(safePathPart('a/b'), safePathPart('a_b'));
  });

  it('reads its root at every line and never throws', () => {
    const a = mkdtempSync(join(tmpdir(), 'bottega-logs-'));
    let home = a;
    const dest = experimentLogDestination({ home: () => home });
    const line = JSON.stringify({ experimentId: 'e', stage: 'mine', msg: 'm' });
    dest.write(line);
    home = mkdtempSync(join(tmpdir(), 'bottega-logs-'));
    dest.write(line);
    assert.equal(readLines(stageLogPath(a, 'e', 'mine')).length, 1);
    assert.equal(readLines(stageLogPath(home, 'e', 'mine')).length, 1);
    // Directory removed after the first line: it is made again.
    rmSync(join(home, 'logs'), { recursive: true });
    dest.write(line);
    assert.equal(readLines(stageLogPath(home, 'e', 'mine')).length, 1);
    // Not JSON, or an unwritable root: ignored.
    assert.doesNotThrow(() => dest.write('{"experimentId" "stage" oops'));
    // A root below a plain file cannot be made.
    home = join(stageLogPath(home, 'e', 'mine'), 'below-a-file');
    assert.doesNotThrow(() => dest.write(line));
    assert.ok(!existsSync(home));
  });

  it('defaults to $BOTTEGA_HOME read when the line is written', () => {
    const home = mkdtempSync(join(tmpdir(), 'bottega-logs-'));
    const saved = process.env.BOTTEGA_HOME;
    const dest = experimentLogDestination();
    process.env.BOTTEGA_HOME = home;
    try {
      dest.write(JSON.stringify({ experimentId: 'e', stage: 'mix', msg: 'm' }));
    } finally {
      if (saved === undefined) delete process.env.BOTTEGA_HOME;
      else process.env.BOTTEGA_HOME = saved;
    }
    assert.equal(readLines(stageLogPath(home, 'e', 'mix')).length, 1);
  });
});
