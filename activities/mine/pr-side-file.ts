/**
 * The optional PR side file of a git source (`prs_file`): one JSON object per line with what the
 * GitHub API knows of a PR and a mirror does not (its title, body, author, labels, linked issues),
 * as exported with `gh pr list --state merged --json number,title,body,author,labels,…` flattened to
 * `{number, title, body, author, labels, linked_issues}`. It fills in PRs found in the mirror offline,
 * like `issues_file` does for issues; PRs it lists that the mirror does not have are ignored.
 */
import { z } from 'zod';
import { parseJsonlRecords } from '../text-input';
import { SideFileCache } from './side-file-cache';

/** One line of a PR side file. `author` may be a login string or GitHub's `{login, is_bot}` object. */
export const PrSideLine = z.object({
  number: z.number().int().positive(),
  title: z.string().optional(),
  body: z.string().nullable().optional(),
  author: z
    .union([z.string(), z.object({ login: z.string(), is_bot: z.boolean().optional() })])
    .nullable()
    .optional(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])).optional(),
  /** Issue numbers the PR closes (GitHub's closingIssuesReferences), besides those its body names. */
  linked_issues: z.array(z.union([z.number().int().positive(), z.object({ number: z.number().int() })])).optional(),
  created_at: z.string().nullable().optional(),
  merged_at: z.string().nullable().optional(),
});
export type PrSideLine = z.infer<typeof PrSideLine>;

/** A side-file PR, normalised. */
export interface SidePr {
  title: string | null;
  body: string | null;
  author: string | null;
  authorIsBot: boolean;
  labels: string[];
  linkedIssues: number[];
  createdAt: string | null;
  mergedAt: string | null;
}

/** Parses PR side-file text (a leading BOM is ignored); errors name the file and line. Later lines win. */
export function parsePrSideFile(raw: string, file: string): Map<number, SidePr> {
  const out = new Map<number, SidePr>();
  const expected =
    '{"number": N, "title": "...", "body": "...", "author": "login", "labels": [...], "linked_issues": [N]}';
  for (const p of parseJsonlRecords(raw, file, PrSideLine, 'a PR record', expected)) {
    const login = typeof p.author === 'string' ? p.author : (p.author?.login ?? null);
    out.set(p.number, {
      title: p.title ?? null,
      body: p.body ?? null,
      author: login,
      authorIsBot: (typeof p.author === 'object' && p.author?.is_bot === true) || /\[bot\]$/i.test(login ?? ''),
      labels: (p.labels ?? []).map((l) => (typeof l === 'string' ? l : l.name)),
      linkedIssues: (p.linked_issues ?? []).map((x) => (typeof x === 'number' ? x : x.number)),
      createdAt: p.created_at ?? null,
      mergedAt: p.merged_at ?? null,
    });
  }
  return out;
}

/** Parsed PR side files, once per worker process and content (see side-file-cache.ts). Read-only values. */
export const prSideFileCache = new SideFileCache<ReadonlyMap<number, SidePr>>(
  (bytes, file) => parsePrSideFile(bytes.toString('utf8'), file),
  { what: 'PR side file' }
);
