import { structuredPatch } from 'diff';

/** A file's net change between two states; `null` content means the file does not exist. */
export interface FileChange {
  oldPath: string;
  newPath: string;
  oldContent: string | null;
  newContent: string | null;
}

function hunksOf(oldText: string, newText: string): string {
  const p = structuredPatch('a', 'b', oldText, newText, '', '', { context: 3 });
  let out = '';
  for (const h of p.hunks) {
    // Unified-diff convention: an empty range names the line before it (git writes -0,0 for new files).
    const oldStart = h.oldLines === 0 ? h.oldStart - 1 : h.oldStart;
    const newStart = h.newLines === 0 ? h.newStart - 1 : h.newStart;
    out += `@@ -${oldStart},${h.oldLines} +${newStart},${h.newLines} @@\n`;
    for (const l of h.lines) out += `${l}\n`;
  }
  return out;
}

/**
 * Formats one file change as a `git diff`-style patch (the shape SWE-bench's `patch` and
 * `test_patch` fields use, appliable with `git apply`).
 */
export function formatGitDiff(c: FileChange): string {
  const { oldPath, newPath, oldContent, newContent } = c;
  if (oldContent === null && newContent === null) return '';
  let head = `diff --git a/${oldPath} b/${newPath}\n`;
  if (oldContent === null) {
    head += `new file mode 100644\n--- /dev/null\n+++ b/${newPath}\n`;
    return head + hunksOf('', newContent ?? '');
  }
  if (newContent === null) {
    head += `deleted file mode 100644\n--- a/${oldPath}\n+++ /dev/null\n`;
    return head + hunksOf(oldContent, '');
  }
  if (oldPath !== newPath) head += `rename from ${oldPath}\nrename to ${newPath}\n`;
  if (oldContent === newContent) return oldPath !== newPath ? head : '';
  return `${head}--- a/${oldPath}\n+++ b/${newPath}\n${hunksOf(oldContent, newContent)}`;
}
