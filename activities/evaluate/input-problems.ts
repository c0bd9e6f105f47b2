import type { z } from 'zod';
import { stripBom } from '../text-input';

/** One problem in an input file, located by file and line (1-based) or item. */
export interface InputProblem {
  file: string;
  /** 1-based line of a JSONL file, or the item's position (`[3]`, `["id"]`) in a JSON file. */
  where: string;
  message: string;
}

/** `file:line: message`, the way compilers print it. */
export function formatProblem(p: InputProblem): string {
  return `${p.file}:${p.where}: ${p.message}`;
}

/** A zod error as one line: each issue's path and message. */
export function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** A JSON value found in a file, with where it was. */
export interface Located {
  where: string;
  value: unknown;
}

/**
 * Splits a file into JSON values: one per non-blank line for JSONL, the items of a top-level list,
 * or the values of a top-level object keyed by id (SWE-bench's `preds.json`; the key is then
 * returned as `key`). Unparseable lines become problems.
 */
export function readJsonValues(
  file: string,
  raw: string
): { values: (Located & { key?: string })[]; problems: InputProblem[] } {
  const text = stripBom(raw);
  const problems: InputProblem[] = [];
  const trimmed = text.trimStart();
  if (!file.endsWith('.jsonl') && (trimmed.startsWith('[') || (trimmed.startsWith('{') && !isJsonl(trimmed)))) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { values: [], problems: [{ file, where: '1', message: `not valid JSON: ${(e as Error).message}` }] };
    }
    if (Array.isArray(doc)) return { values: doc.map((value, i) => ({ where: `[${i}]`, value })), problems };
    if (doc && typeof doc === 'object') {
      return {
        values: Object.entries(doc).map(([key, value]) => ({ where: `[${JSON.stringify(key)}]`, value, key })),
        problems,
      };
    }
    return { values: [], problems: [{ file, where: '1', message: 'expected a JSON list or object' }] };
  }
  const values: Located[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      values.push({ where: String(i + 1), value: JSON.parse(line) });
    } catch (e) {
      problems.push({ file, where: String(i + 1), message: `not valid JSON: ${(e as Error).message}` });
    }
  });
  return { values, problems };
}

/**
 * Whether a text starting with `{` is JSON lines rather than one object keyed by id: it is unless
 * the whole text is one object without `instance_id` whose values are all objects.
 */
function isJsonl(text: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return true;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || 'instance_id' in doc) return true;
  return !Object.values(doc).every((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
}
