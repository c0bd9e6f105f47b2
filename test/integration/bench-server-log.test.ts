import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { startBenchDevServer, type BenchDevServer } from '../../bench/dev-server';
import { historyWarnings, locateServerLog, logOffset } from '../../bench/server-log';
import { prerequisites } from '../helpers/prereq';

const skip = await prerequisites('temporal');

describe("the sweep bench's own dev server: its log shows the server's history warnings", { skip }, () => {
  let dir: string;
  let server: BenchDevServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bottega-bench-server-'));
    // Warn limits lowered so a few signals cross them: what a too-long sweep history does at 10k events.
    server = await startBenchDevServer(dir, [
      '--dynamic-config-value',
      'limit.historyCount.warn=20',
      '--dynamic-config-value',
      'limit.historySize.warn=4000',
    ]);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the warnings in the log of the server the run used', async () => {
    const start = logOffset(server.log);
    const connection = await Connection.connect({ address: server.address });
    try {
      const client = new Client({ connection });
      // No worker needed: signals alone grow the history.
      const h = await client.workflow.start('noSuchWorkflow', { workflowId: 'w-long', taskQueue: 'nobody' });
      for (let i = 0; i < 30; i++) await h.signal('s', 'x'.repeat(200));
      let warnings: string[] = [];
      for (let i = 0; i < 40 && warnings.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        warnings = historyWarnings(server.log, start);
      }
      assert.ok(warnings.length > 0, 'history-limit warnings found in the own server log');
      assert.ok(
        warnings.every((l) => l.includes('wf-id=w-long')),
        warnings.join('\n')
      );
      await h.terminate();
    } finally {
      await connection.close();
    }
  });

  it("does not mistake infra/dev.sh's log for the log of this server", () => {
    assert.throws(
      () => locateServerLog({ address: server.address, home: join(dir, 'elsewhere') }),
      /cannot find the log of the Temporal server at 127\.0\.0\.1:\d+/
    );
  });
});
