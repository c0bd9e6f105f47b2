import { listGitPrs, type GitPrPage } from '../../activities/mine/git-source';
import type { GitSource } from '../../contracts/mine';

/** Every page of a git source, as the mine workflow reads them (later pages pinned to the first), joined. */
export async function listAllGitPrs(src: GitSource, limit = 100): Promise<GitPrPage> {
  const all: GitPrPage = {
    prs: [],
    origins: [],
    notPrs: [],
    nextCursor: null,
    total: 0,
    pullRefsNotMerged: 0,
    pin: { head: '', pullRefs: '' },
  };
  for (let cursor: number | null = 0; cursor !== null;) {
    const page = await listGitPrs(src, { cursor, limit, ...(cursor > 0 ? { pin: all.pin } : {}) });
    all.prs.push(...page.prs);
    all.origins.push(...page.origins);
    all.notPrs.push(...page.notPrs);
    all.total = page.total;
    all.pullRefsNotMerged = page.pullRefsNotMerged;
    all.pin = page.pin;
    cursor = page.nextCursor;
  }
  return all;
}
