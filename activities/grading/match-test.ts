import type { TestStatus, TestStatusMap } from '../../contracts/grading';

/** True when an id looks cut inside its parameter brackets (`tests/t.py::test_b[a` from `test_b[a b]`). */
export function isTruncatedParamId(id: string): boolean {
  const open = id.indexOf('[');
  if (open < 0) return false;
  let depth = 0;
  for (const c of id.slice(open)) {
    if (c === '[') depth++;
    else if (c === ']') depth--;
  }
  return depth > 0 || !id.endsWith(']');
}

/** The other spelling of a unittest id: `t (m.C)` ↔ `t (m.C.t)` (Python 3.11 appends the method). */
function unittestAlias(id: string): string | null {
  const m = /^(\w+) \(([\w.]+)\)$/.exec(id);
  if (!m) return null;
  const [, name, path] = m as unknown as [string, string, string];
  return path.endsWith(`.${name}`) ? `${name} (${path.slice(0, -name.length - 1)})` : `${name} (${path}.${name})`;
}

/**
 * The status of a task's test id in a parsed run. Exact match first; then the other Python
 * version's unittest spelling; then, for a truncated parametrized id (SWE-bench 5.0: ids cut at
 * whitespace by older log parsers), the status every id starting with it agrees on. Undefined when
 * the test is missing or the candidates disagree.
 */
export function matchTest(id: string, statuses: TestStatusMap): TestStatus | undefined {
  const exact = statuses[id];
  if (exact) return exact;
  const alias = unittestAlias(id);
  if (alias && statuses[alias]) return statuses[alias];
  if (!isTruncatedParamId(id)) return undefined;
  const found = new Set<TestStatus>();
  for (const [key, status] of Object.entries(statuses)) if (key.startsWith(id)) found.add(status);
  return found.size === 1 ? [...found][0] : undefined;
}
