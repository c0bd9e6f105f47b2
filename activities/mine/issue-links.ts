/**
 * Closing-reference parsing ("Fixes #12"), shared by the git and GitHub mine sources.
 *
 * GitHub links a PR to an issue when the PR description contains one of nine closing keywords
 * followed by an issue reference. We follow GitHub's rules: one keyword per reference
 * ("Fixes #1 and #2" closes only #1), an optional colon after the keyword, case-insensitive.
 */

const KEYWORDS = 'close|closes|closed|fix|fixes|fixed|resolve|resolves|resolved';

/**
 * keyword, optional colon, then one of: `#N`, `owner/repo#N`, or a
 * `https://github.com/owner/repo/issues/N` URL. The keyword must start a word ("prefixes #3" is
 * not a reference) and the number must end one ("#3a" is not either).
 */
const REF_RE = new RegExp(
  String.raw`(?<![\w-])(?:${KEYWORDS})(?:\s*:\s*|\s+)` +
    String.raw`(?:#(\d+)|([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)#(\d+)|https?:\/\/github\.com\/([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)\/issues\/(\d+))(?![\w])`,
  'gi'
);

/**
 * Issue numbers a PR text closes, per GitHub's closing keywords, deduplicated in order of first
 * appearance.
 *
 * - `#N` always counts.
 * - `owner/repo#N` and `https://github.com/owner/repo/issues/N` count only when `repo` is given
 *   and names the same repository (case-insensitive); without `repo` such cross-repository-looking
 *   references are ignored, since they could point anywhere.
 *
 * @param text PR body (or any text); null/undefined yields [].
 * @param repo the PR's own repository, `owner/name`.
 */
export function parseIssueRefs(text: string | null | undefined, repo?: string): number[] {
  if (!text) return [];
  const self = repo?.toLowerCase();
  const out: number[] = [];
  const seen = new Set<number>();
  for (const m of text.matchAll(REF_RE)) {
    let n: string | undefined;
    if (m[1] !== undefined) n = m[1];
    else if (m[2] !== undefined && self !== undefined && m[2].toLowerCase() === self) n = m[3];
    else if (m[4] !== undefined && self !== undefined && m[4].toLowerCase() === self) n = m[5];
    if (n === undefined) continue;
    const num = Number(n);
    if (!Number.isSafeInteger(num) || num <= 0 || seen.has(num)) continue;
    seen.add(num);
    out.push(num);
  }
  return out;
}
