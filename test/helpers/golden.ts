import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PrRecord } from '../../contracts/pr';

/** Golden files of the renderers: `<name>.pr.json` inputs and their expected outputs. */
export const GOLDEN = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** A golden input PR. */
export function fixture(name: string): PrRecord {
  return PrRecord.parse(JSON.parse(readFileSync(`${GOLDEN}${name}.pr.json`, 'utf8')));
}

/** Compares with the golden file byte for byte; `UPDATE_GOLDEN=1` rewrites it instead. */
export function golden(file: string, actual: string): void {
  if (UPDATE) writeFileSync(`${GOLDEN}${file}`, actual);
  assert.equal(
    actual,
    readFileSync(`${GOLDEN}${file}`, 'utf8'),
    `golden ${file} differs (UPDATE_GOLDEN=1 regenerates)`
  );
}

/** Names of the golden inputs, sorted. */
export const goldenNames = readdirSync(GOLDEN)
  .filter((f) => f.endsWith('.pr.json'))
  .map((f) => f.slice(0, -'.pr.json'.length))
  .sort();
