/**
 * The one place bottega handles the UTF-8 byte order mark of its input files. Notepad, Excel's
 * "CSV UTF-8" family, PowerShell's `Out-File` and some export tools write U+FEFF before the first
 * character; `JSON.parse` rejects it, so without this the first record of a JSONL file (or a whole
 * JSON file) would fail to parse, or be counted as invalid, for a reason invisible in an editor.
 * Every reader of user-supplied JSONL/JSON (task records, predictions, evaluation tasks, mix
 * sources and benchmarks, issues files of git sources, baseline run reports, JSON specs,
 * imported trajectories) passes the text, or the first line of a stream, through {@link stripBom}.
 */
import type { z } from 'zod';

/** U+FEFF, the byte order mark as decoded from UTF-8 (bytes EF BB BF). */
export const BOM = '\uFEFF';

/** `text` without one leading byte order mark (a BOM anywhere else is content, and is kept). */
export function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(BOM.length) : text;
}

/**
 * The records of a small JSONL side file (a git source's issues or PR file): a leading BOM ignored,
 * blank lines skipped, each line checked with `schema`. An error names `file:line`, the first field
 * at fault and `expected` (what a line should look like).
 */
export function parseJsonlRecords<S extends z.ZodType>(
  raw: string,
  file: string,
  schema: S,
  what: string,
  expected: string
): z.output<S>[] {
  const out: z.output<S>[] = [];
  stripBom(raw)
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: invalid JSON: ${(e as Error).message}`);
      }
      const r = schema.safeParse(json);
      if (!r.success) {
        const first = r.error.issues[0]!;
        throw new Error(
          `${file}:${i + 1}: not ${what}: ${first.path.join('.') || '(line)'}: ${first.message} (expected ${expected})`
        );
      }
      out.push(r.data);
    });
  return out;
}
