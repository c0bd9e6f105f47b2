import type { MineFilters, PrRecord } from '../../contracts';

/** Reasons a PR is removed before any rendering. */
export const SharedDropReason = {
  notMerged: 'not_merged',
  botAuthor: 'bot_author',
  decontaminated: 'decontaminated_repo',
  issueTooManyComments: 'issue_too_many_comments',
  commitsTruncated: 'too_many_commits',
} as const;
export type SharedDropReason = (typeof SharedDropReason)[keyof typeof SharedDropReason];

/** Reasons a PR is left out of the Python subset (D^ctx_py). */
export const PythonFilterReason = {
  nonPythonFiles: 'non_python_files',
  noPythonFiles: 'too_few_python_files',
  tooManyPythonFiles: 'too_many_python_files',
  tooManyFiles: 'too_many_files',
} as const;
export type PythonFilterReason = (typeof PythonFilterReason)[keyof typeof PythonFilterReason];

/** True when the author is a bot: GitHub's Bot type (author_is_bot) or a configured pattern. */
export function isBotAuthor(pr: Pick<PrRecord, 'author' | 'author_is_bot'>, patterns: readonly string[]): boolean {
  if (pr.author_is_bot) return true;
  return patterns.some((p) => new RegExp(p, 'i').test(pr.author));
}

/** True when every PR of `repo` must be removed (repo-level decontamination, case-insensitive). */
export function isDecontaminatedRepo(repo: string, filters: Pick<MineFilters, 'decontaminate_repos'>): boolean {
  const r = repo.toLowerCase();
  return filters.decontaminate_repos.some((d) => d.toLowerCase() === r);
}

/** The filters every format shares, in order; returns the first reason that removes the PR. */
export function sharedFilter(pr: PrRecord, filters: MineFilters): SharedDropReason | null {
  if (filters.merged_only && !pr.merged) return SharedDropReason.notMerged;
  if (filters.exclude_bots && isBotAuthor(pr, filters.bot_patterns)) return SharedDropReason.botAuthor;
  if (isDecontaminatedRepo(pr.repo, filters)) return SharedDropReason.decontaminated;
  if (pr.commits_truncated) return SharedDropReason.commitsTruncated;
  if (pr.linked_issues.some((i) => i.comments.length > filters.max_issue_comments)) {
    return SharedDropReason.issueTooManyComments;
  }
  return null;
}

const extOf = (path: string) => {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
};

/** True for a path with a Python source extension under the filter config. */
export function isPythonPath(path: string, py: MineFilters['python']): boolean {
  return py.extensions.includes(extOf(path));
}

/**
 * The Python subset rule (paper §3.1): only Python source or documentation files changed,
 * 1–5 Python files, at most 20 files in all. Counted on the PR's net change.
 */
export function pythonFilter(pr: PrRecord, filters: MineFilters): PythonFilterReason | null {
  const py = filters.python;
  const files = pr.changed_files;
  if (files.length > py.max_files) return PythonFilterReason.tooManyFiles;
  let pyCount = 0;
  for (const f of files) {
    const ext = extOf(f.path);
    if (py.extensions.includes(ext)) pyCount++;
    else if (!py.doc_extensions.includes(ext)) return PythonFilterReason.nonPythonFiles;
  }
  if (pyCount < py.min_python_files) return PythonFilterReason.noPythonFiles;
  if (pyCount > py.max_python_files) return PythonFilterReason.tooManyPythonFiles;
  return null;
}
