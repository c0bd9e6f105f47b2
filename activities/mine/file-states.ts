import type { PrRecord } from '../../contracts';
import { applyUnifiedPatch } from './patch';

/** The net effect of a PR, file by file, as reconstructed from its commits' patches. */
export interface NetFileChange {
  /** Path at the PR's start (the parent of its first commit); equals `path` unless renamed. */
  oldPath: string;
  path: string;
  status: 'added' | 'modified' | 'removed' | 'renamed';
  /** Content before the PR (null when added). */
  before: string | null;
  /** Content after the PR (null when removed). */
  after: string | null;
}

/** Why a PR's final file states could not be reconstructed. */
export class FileStateError extends Error {
  constructor(
    readonly reason: 'unreadable_file' | 'patch_mismatch',
    message: string
  ) {
    super(message);
    this.name = 'FileStateError';
  }
}

/**
 * Replays the PR's commits over the relevant files (content at the parent of the first commit)
 * and returns the net change of each file in `pr.changed_files`. Throws {@link FileStateError}
 * when a needed file is binary/unreadable or a patch does not apply.
 */
export function netFileChanges(pr: PrRecord): NetFileChange[] {
  const state = new Map<string, string | null>();
  for (const f of pr.relevant_files) state.set(f.path, f.content);
  const skipped = new Set(pr.skipped_files.map((s) => s.path));
  for (const commit of pr.commits) {
    for (const d of commit.diffs) {
      // GitHub omits patches for pure renames and empty new files; a modified file without one is unreadable.
      if (d.binary || (d.patch === null && d.status === 'modified')) {
        throw new FileStateError('unreadable_file', `${d.path}: binary or patch unavailable`);
      }
      const from = d.status === 'renamed' ? (d.previous_path ?? d.path) : d.path;
      if (d.status === 'removed') {
        state.set(d.path, null);
        continue;
      }
      let current: string | null | undefined = d.status === 'added' ? '' : state.get(from);
      if (current === undefined || current === null) {
        if (skipped.has(from)) throw new FileStateError('unreadable_file', `${from}: content skipped`);
        // A file created by an earlier commit of this PR and changed again, or absent at base.
        current = '';
      }
      if (d.status === 'renamed') state.set(from, null);
      let next = current;
      if (d.patch) {
        try {
          next = applyUnifiedPatch(current, d.patch);
        } catch (e) {
          throw new FileStateError('patch_mismatch', `${d.path} in ${commit.sha}: ${(e as Error).message}`);
        }
      }
      state.set(d.path, next);
    }
  }
  const base = new Map(pr.relevant_files.map((f) => [f.path, f.content]));
  return pr.changed_files.map((f) => {
    const oldPath = f.previous_path ?? f.path;
    const before = f.status === 'added' ? null : (base.get(oldPath) ?? null);
    if (f.status !== 'added' && before === null) {
      throw new FileStateError('unreadable_file', `${oldPath}: no base content`);
    }
    const after = f.status === 'removed' ? null : (state.get(f.path) ?? null);
    return { oldPath, path: f.path, status: f.status, before, after };
  });
}
