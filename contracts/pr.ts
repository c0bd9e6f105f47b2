import { z } from 'zod';

/**
 * The normalised pull-request record every mine source produces (GitHub API or local git) and
 * every renderer consumes. Field names follow the released daVinci-Dev parquet where one exists.
 */

/** How a file changed in one commit or across the whole PR. */
export const FileStatus = z.enum(['added', 'modified', 'removed', 'renamed']);
export type FileStatus = z.infer<typeof FileStatus>;

/** One file's change inside one commit. */
export const CommitFileDiff = z.strictObject({
  /** Path after the commit. For `removed` it is the removed path. */
  path: z.string(),
  /** Path before the commit; set only for `renamed`. */
  previous_path: z.string().nullable().default(null),
  status: FileStatus,
  /**
   * Unified diff hunks as GitHub's API returns them in `files[].patch`: starting at the first `@@`
   * line, no `---`/`+++` header. Null for binary files or when the API omitted it (too large).
   */
  patch: z.string().nullable(),
  /** True when git/GitHub reported the file as binary. */
  binary: z.boolean().default(false),
});
export type CommitFileDiff = z.infer<typeof CommitFileDiff>;

/** One commit of a PR, in PR order (oldest first). */
export const PrCommit = z.strictObject({
  sha: z.string(),
  parents: z.array(z.string()),
  author: z.string(),
  authored_at: z.string(),
  message: z.string(),
  /** LLM-refined message (commit-message rewrite), null when not enhanced or when the call failed. */
  refined_message: z.string().nullable().default(null),
  diffs: z.array(CommitFileDiff),
});
export type PrCommit = z.infer<typeof PrCommit>;

/** A file's content at the parent of the PR's first commit. */
export const RelevantFile = z.strictObject({
  path: z.string(),
  content: z.string(),
});
export type RelevantFile = z.infer<typeof RelevantFile>;

/** Why a relevant file's content was not included. */
export const SkippedFileReason = z.enum(['binary', 'non_utf8', 'missing_at_base', 'too_many_files']);
export type SkippedFileReason = z.infer<typeof SkippedFileReason>;

export const SkippedFile = z.strictObject({ path: z.string(), reason: SkippedFileReason });
export type SkippedFile = z.infer<typeof SkippedFile>;

/** A conversation entry (issue comment, PR comment). */
export const Comment = z.strictObject({
  author: z.string(),
  body: z.string(),
  created_at: z.string(),
});
export type Comment = z.infer<typeof Comment>;

/** A review-comment thread entry anchored to a diff line. */
export const ReviewComment = z.strictObject({
  author: z.string(),
  body: z.string(),
  created_at: z.string(),
  path: z.string(),
  diff_hunk: z.string().default(''),
  /** id of the comment this one replies to, used to group threads. */
  in_reply_to: z.number().int().nullable().default(null),
  id: z.number().int().nullable().default(null),
});
export type ReviewComment = z.infer<typeof ReviewComment>;

export const Review = z.strictObject({
  author: z.string(),
  body: z.string(),
  /** GitHub review state, lower-cased: approved, changes_requested, commented, dismissed. */
  state: z.string(),
  submitted_at: z.string(),
});
export type Review = z.infer<typeof Review>;

export const LinkedIssue = z.strictObject({
  number: z.number().int(),
  title: z.string(),
  body: z.string(),
  created_at: z.string().nullable().default(null),
  comments: z.array(Comment).default([]),
});
export type LinkedIssue = z.infer<typeof LinkedIssue>;

/** One pull request, normalised. */
export const PrRecord = z.strictObject({
  /** "owner/name". */
  repo: z.string(),
  repo_description: z.string().default(''),
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().default(''),
  author: z.string(),
  /** True when the author is a bot (GitHub `type: Bot` or a `[bot]` suffix). Filters decide. */
  author_is_bot: z.boolean().default(false),
  state: z.enum(['open', 'closed']),
  merged: z.boolean(),
  created_at: z.string(),
  merged_at: z.string().nullable().default(null),
  closed_at: z.string().nullable().default(null),
  /** PR metadata base SHA (may differ from the first commit's parent). */
  base_sha: z.string(),
  head_sha: z.string(),
  merge_commit_sha: z.string().nullable().default(null),
  /** Commits in PR order, oldest first. */
  commits: z.array(PrCommit),
  /**
   * True when the PR has more commits than a source returns (GitHub lists at most 250): `commits`
   * is then incomplete, and the filters drop the PR rather than render a partial history.
   */
  commits_truncated: z.boolean().default(false),
  /** Net change from the first commit's parent to the head: one entry per path. */
  changed_files: z.array(
    z.strictObject({ path: z.string(), previous_path: z.string().nullable().default(null), status: FileStatus })
  ),
  /** Contents at the parent of the PR's first commit of modified/removed/renamed files (added excluded). */
  relevant_files: z.array(RelevantFile),
  /** Relevant files that could not be included, with the reason (counted, never silently dropped). */
  skipped_files: z.array(SkippedFile).default([]),
  /** Issues the PR resolves ("Fixes #N"), with their data when known. */
  linked_issues: z.array(LinkedIssue).default([]),
  /** PR conversation comments, chronological. */
  comments: z.array(Comment).default([]),
  reviews: z.array(Review).default([]),
  review_comments: z.array(ReviewComment).default([]),
  /** LLM PR summary (the "plan"), null when not enhanced or the call failed. */
  pr_summary: z.string().nullable().default(null),
});
export type PrRecord = z.infer<typeof PrRecord>;
