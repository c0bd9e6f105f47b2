import { XMLParser } from 'fast-xml-parser';
import type { TestStatus, TestStatusMap } from '../../../contracts/grading';
import { record, stripAnsi } from './common';

type Node = Record<string, unknown>;

const ARRAYS = new Set(['testsuites', 'testsuite', 'testcase', 'failure', 'error', 'skipped']);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => ARRAYS.has(name),
});

/**
 * The JUnit XML blocks in a log: every `<testsuites>`/`<testsuite>` region from the first opening
 * tag to the last closing one, XML declarations removed. Text around them (shell echo, pytest's
 * console output) is dropped; several concatenated reports become siblings under one root.
 */
export function extractJunitXml(log: string): string | null {
  const text = stripAnsi(log);
  const start = text.search(/<testsuites?[\s>/]/);
  if (start < 0) return null;
  const closes = [...text.matchAll(/<\/testsuites?>|<testsuites?\b[^>]*\/>/g)];
  const last = closes[closes.length - 1];
  if (!last || last.index < start) return null;
  const body = text.slice(start, last.index + last[0].length).replace(/<\?xml[^?]*\?>/g, '');
  return `<junit-root>${body}</junit-root>`;
}

function asNodes(v: unknown): Node[] {
  if (Array.isArray(v)) return v.filter((x): x is Node => typeof x === 'object' && x !== null);
  return typeof v === 'object' && v !== null ? [v as Node] : [];
}

function caseStatus(tc: Node): TestStatus {
  if (Array.isArray(tc.error) && tc.error.length) return 'ERROR';
  if (Array.isArray(tc.failure) && tc.failure.length) return 'FAILED';
  const skipped = Array.isArray(tc.skipped) ? tc.skipped : [];
  if (skipped.length) {
    const first: unknown = skipped[0];
    const type = typeof first === 'object' && first !== null ? (first as Node)['@_type'] : undefined;
    return type === 'pytest.xfail' ? 'XFAIL' : 'SKIPPED';
  }
  return 'PASSED';
}

function walk(node: Node, map: TestStatusMap): void {
  for (const tc of asNodes(node.testcase)) {
    const name = typeof tc['@_name'] === 'string' ? tc['@_name'] : '';
    const cls = typeof tc['@_classname'] === 'string' ? tc['@_classname'] : '';
    if (name) record(map, cls ? `${cls}::${name}` : name, caseStatus(tc));
  }
  for (const key of ['testsuites', 'testsuite']) for (const child of asNodes(node[key])) walk(child, map);
}

/**
 * Parses JUnit XML (pytest `--junitxml`, Maven Surefire, …), possibly several reports embedded in a
 * log. Ids are `classname::name` (`tests.test_x::test_a[1-2]`), or `name` without a classname.
 * `<error>` → ERROR, `<failure>` → FAILED, `<skipped type="pytest.xfail">` → XFAIL, other
 * `<skipped>` → SKIPPED, no child → PASSED. Unparseable XML yields an empty map.
 */
export function parseJunitLog(log: string): TestStatusMap {
  const xml = extractJunitXml(log);
  const map: TestStatusMap = {};
  if (!xml) return map;
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch {
    return map;
  }
  for (const root of asNodes((doc as Node)['junit-root'])) walk(root, map);
  return map;
}
