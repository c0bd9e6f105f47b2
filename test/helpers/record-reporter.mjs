// A node:test reporter for test/run.ts: appends each result and the closing counts to the JSONL
// file named by BOTTEGA_TEST_RECORD, synchronously, so that nothing is lost when the runner is made
// to exit (`--test-force-exit`) or is killed. It prints nothing; the spec reporter does that.
// Plain JavaScript: node loads reporters before tsx is registered.
/* global process */
import { appendFileSync } from 'node:fs';

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* recordReporter(source) {
  const file = process.env.BOTTEGA_TEST_RECORD;
  const write = (line) => file && appendFileSync(file, JSON.stringify(line) + '\n');
  for await (const { type, data } of source) {
    if (type === 'test:pass' || type === 'test:fail') {
      const skip = data.skip;
      write({
        kind: 'result',
        pass: type === 'test:pass',
        name: data.name ?? '',
        suite: data.details?.type === 'suite',
        ...(skip !== undefined && skip !== false ? { skip: typeof skip === 'string' ? skip : 'no reason given' } : {}),
        todo: data.todo !== undefined && data.todo !== false,
        // A suite that failed only because a test in it did is not a failure of its own.
        parentOnly: data.details?.error?.failureType === 'subtestsFailed',
      });
    } else if (type === 'test:diagnostic' && data.nesting === 0 && data.message) {
      write({ kind: 'count', message: data.message });
    }
  }
  yield '';
}
