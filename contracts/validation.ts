import { z } from 'zod';

/** One problem with an input, addressed by its path (e.g. `mine.sources[0].repo`). */
export interface InputProblem {
  path: string;
  message: string;
}

/** `['mine','sources',0,'repo']` → `mine.sources[0].repo`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(root)';
}

/** Turns zod issues into one readable problem per line, naming the path and what was expected. */
export function describeIssues(error: z.ZodError): InputProblem[] {
  return describeIssueList(error.issues, []);
}

/**
 * A union's issues: those of the one branch whose type the input has (e.g. `evaluate` given as an
 * object is checked as one evaluation, as a list as named ones), with paths made absolute.
 */
function unionIssues(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | null {
  const fits = issue.errors.filter((b) => !b.some((i) => i.code === 'invalid_type' && i.path.length === 0));
  if (fits.length !== 1) return null;
  return fits[0]!.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
}

function describeIssueList(issues: readonly z.core.$ZodIssue[], out: InputProblem[]): InputProblem[] {
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      const branch = unionIssues(issue);
      if (branch) {
        describeIssueList(branch, out);
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          path: formatPath([...issue.path, key]),
          message: 'unknown key (check the spelling; `bottega schema` lists every allowed key)',
        });
      }
      continue;
    }
    out.push({ path: formatPath(issue.path), message: issue.message });
  }
  return out;
}

/** Thrown (outside workflows) when an input fails validation; `problems` has one entry per issue. */
export class InputValidationError extends Error {
  constructor(
    readonly what: string,
    readonly problems: InputProblem[]
  ) {
    super(`${what} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'InputValidationError';
  }
}

/** Parses `input` with `schema`, or throws an {@link InputValidationError} listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new InputValidationError(what, describeIssues(r.error));
  return r.data;
}
