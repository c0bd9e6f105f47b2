import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GitSource } from '../../contracts/mine';
import { issuesFileCache, listGitPrs } from '../../activities/mine/git-source';
import { SideFileCache } from '../../activities/mine/side-file-cache';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bottega-side-file-cache-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A cache whose parser records every call and returns the text with a serial number. */
function countingCache(maxEntries?: number) {
  const parsed: string[] = [];
  const cache = new SideFileCache<{ text: string; n: number }>(
    (bytes) => {
      parsed.push(bytes.toString('utf8'));
      return { text: bytes.toString('utf8'), n: parsed.length };
    },
    { maxEntries, what: 'test file' }
  );
  return { cache, parsed };
}

describe('SideFileCache', () => {
  it('parses a file once and answers later calls from the cache (same object)', async () => {
    const f = join(dir, 'a.jsonl');
    await writeFile(f, 'one');
    const { cache, parsed } = countingCache();
    const first = await cache.get(f);
    const again = await cache.get(f);
    assert.equal(again, first);
    assert.deepEqual(parsed, ['one']);
    assert.deepEqual(cache.stats, { hits: 1, contentHits: 0, parses: 1 });
  });

  it('keys by content: a touched file or a copy with the same bytes is not parsed again', async () => {
    const f = join(dir, 'b.jsonl');
    const copy = join(dir, 'b-copy.jsonl');
    await writeFile(f, 'same bytes');
    const { cache, parsed } = countingCache();
    const first = await cache.get(f);
    await utimes(f, new Date(2020, 0, 1), new Date(2020, 0, 1));
    await copyFile(f, copy);
    assert.equal(await cache.get(f), first);
    assert.equal(await cache.get(copy), first);
    assert.equal(parsed.length, 1);
    assert.deepEqual(cache.stats, { hits: 0, contentHits: 2, parses: 1 });
  });

  it('parses again after the content changes, even with the same size and mtime', async () => {
    const f = join(dir, 'c.jsonl');
    await writeFile(f, 'v1');
    const { cache } = countingCache();
    assert.equal((await cache.get(f)).text, 'v1');
    const when = new Date(2021, 5, 1);
    await utimes(f, when, when);
    assert.equal((await cache.get(f)).text, 'v1');
    await writeFile(f, 'v2'); // same size
    await utimes(f, when, when); // same mtime: the ctime (and the hash) still tell
    assert.equal((await cache.get(f)).text, 'v2');
    assert.equal(cache.stats.parses, 2);
  });

  it('keeps at most maxEntries parses, least recently used out first', async () => {
    const files = await Promise.all(
      ['p', 'q', 'r'].map(async (x) => {
        const f = join(dir, `${x}.jsonl`);
        await writeFile(f, x);
        return f;
      })
    );
    const { cache, parsed } = countingCache(2);
    await cache.get(files[0]!);
    await cache.get(files[1]!);
    await cache.get(files[0]!); // p is now the most recent
    await cache.get(files[2]!); // evicts q
    assert.equal(cache.size, 2);
    await cache.get(files[0]!);
    await cache.get(files[2]!);
    assert.deepEqual(parsed, ['p', 'q', 'r']);
    await cache.get(files[1]!);
    assert.deepEqual(parsed, ['p', 'q', 'r', 'q']);
    assert.equal(cache.size, 2);
    // Many rewrites of one file stay bounded too.
    for (let i = 0; i < 20; i++) {
      await writeFile(files[0]!, `p${i}`);
      await cache.get(files[0]!);
    }
    assert.equal(cache.size, 2);
  });

  it('shares one read and parse between concurrent callers', async () => {
    const f = join(dir, 'd.jsonl');
    await writeFile(f, 'shared');
    const { cache, parsed } = countingCache();
    const got = await Promise.all(Array.from({ length: 8 }, () => cache.get(f)));
    assert.ok(got.every((g) => g === got[0]));
    assert.equal(parsed.length, 1);
  });

  it('does not cache failures, and names the file when it cannot be read', async () => {
    const f = join(dir, 'e.jsonl');
    await writeFile(f, 'bad');
    let fail = true;
    const cache = new SideFileCache<string>((b) => {
      if (fail) throw new Error('e.jsonl:1: broken');
      return b.toString('utf8');
    });
    await assert.rejects(cache.get(f), /e\.jsonl:1: broken/);
    fail = false;
    assert.equal(await cache.get(f), 'bad');
    await assert.rejects(new SideFileCache(String, { what: 'issues file' }).get(join(dir, 'nope.jsonl')), (e) => {
      assert.match((e as Error).message, /^cannot read issues file .*nope\.jsonl: ENOENT/);
      return true;
    });
  });

  it('with maxEntries 0 parses on every call (the uncached reference)', async () => {
    const f = join(dir, 'g.jsonl');
    await writeFile(f, 'x');
    const { cache, parsed } = countingCache(0);
    await cache.get(f);
    await cache.get(f);
    assert.equal(parsed.length, 2);
    assert.equal(cache.size, 0);
    assert.throws(() => cache.setMaxEntries(-1), /maxEntries must be a non-negative integer/);
  });
});

describe('listGitPrs with an issues file', () => {
  let widgets: FixtureRepo;
  let src: GitSource;
  beforeEach(() => issuesFileCache.clear());
  before(async () => {
    [widgets] = (await makeFixtureRepos(join(dir, 'repos'))).repos as [FixtureRepo];
    const issuesFile = join(dir, 'widgets-issues.jsonl');
    await copyFile(widgets.issuesFile!, issuesFile);
    src = GitSource.parse({ type: 'git', repo: widgets.repo, path: widgets.path, issues_file: issuesFile });
  });

  it('reads and validates the issues file once for all pages, and again once it changes', async () => {
    const whole = await listGitPrs(src, { cursor: 0, limit: 100 });
    const pages = [];
    for (let cursor: number | null = 0; cursor !== null;) {
      const r: Awaited<ReturnType<typeof listGitPrs>> = await listGitPrs(src, { cursor, limit: 1 });
      pages.push(...r.prs);
      cursor = r.nextCursor;
    }
    assert.deepEqual(pages, whole.prs);
    assert.equal(pages.length, 8, 'eight PRs (the release merge is not one)');
    assert.equal(issuesFileCache.stats.parses, 1, 'one parse for 10 listings');

    const linked = whole.prs.find((p) => p.linked_issues.length > 0);
    assert.ok(linked, 'a fixture PR links an issue');
    const issue = linked.linked_issues[0]!;
    const text = await readFile(src.issues_file!, 'utf8');
    const edited = text
      .split('\n')
      .map((l) =>
        l && JSON.parse(l).number === issue.number ? JSON.stringify({ ...JSON.parse(l), title: 'edited' }) : l
      )
      .join('\n');
    await writeFile(src.issues_file!, edited);
    const cursor = whole.prs.indexOf(linked);
    const after = await listGitPrs(src, { cursor, limit: 1 });
    assert.equal(after.prs[0]!.linked_issues.find((i) => i.number === issue.number)!.title, 'edited');
    assert.equal(issuesFileCache.stats.parses, 2);
  });
});
