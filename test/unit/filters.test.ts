import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MineFilters } from '../../contracts';
import { isBotAuthor, pythonFilter, sharedFilter } from '../../activities/mine/filters';
import { makePr } from '../helpers/pr';

const filters = MineFilters.parse({});
const files = (...paths: string[]) => paths.map((path) => ({ path, previous_path: null, status: 'modified' as const }));

describe('shared filters', () => {
  it('keeps a merged human PR of a clean repository', () => {
    assert.equal(sharedFilter(makePr(), filters), null);
  });
  it('drops unmerged PRs only when merged_only is set', () => {
    const pr = makePr({ merged: false, merged_at: null });
    assert.equal(sharedFilter(pr, filters), 'not_merged');
    assert.equal(sharedFilter(pr, MineFilters.parse({ merged_only: false })), null);
  });
  it('detects bots by GitHub type and by name pattern', () => {
    assert.equal(isBotAuthor({ author: 'dependabot[bot]', author_is_bot: false }, filters.bot_patterns), true);
    assert.equal(isBotAuthor({ author: 'renovate-helper', author_is_bot: false }, filters.bot_patterns), true);
    assert.equal(isBotAuthor({ author: 'someone', author_is_bot: true }, filters.bot_patterns), true);
    assert.equal(isBotAuthor({ author: 'robotics-fan', author_is_bot: false }, filters.bot_patterns), false);
    assert.equal(sharedFilter(makePr({ author: 'github-actions[bot]' }), filters), 'bot_author');
  });
  it('removes every PR of a SWE-bench Verified repository by default (case-insensitive)', () => {
    assert.equal(sharedFilter(makePr({ repo: 'Django/django' }), filters), 'decontaminated_repo');
    assert.equal(sharedFilter(makePr({ repo: 'psf/requests' }), filters), 'decontaminated_repo');
    assert.equal(sharedFilter(makePr({ repo: 'psf/requests' }), MineFilters.parse({ decontaminate_repos: [] })), null);
  });
  it('drops PRs whose linked issue has too many comments', () => {
    const comments = Array.from({ length: 21 }, (_, i) => ({
      author: 'u',
      body: `c${i}`,
      created_at: '2024-01-01T00:00:00Z',
    }));
    const pr = makePr({ linked_issues: [{ number: 3, title: 't', body: 'b', created_at: null, comments }] });
    assert.equal(sharedFilter(pr, filters), 'issue_too_many_comments');
  });
});

describe('python subset filter', () => {
  it('accepts 1-5 python files plus docs', () => {
    assert.equal(
      pythonFilter(makePr({ changed_files: files('a.py', 'b.pyi', 'docs/x.md', 'README.rst') }), filters),
      null
    );
  });
  it('rejects any non-python, non-doc file', () => {
    assert.equal(pythonFilter(makePr({ changed_files: files('a.py', 'setup.cfg') }), filters), 'non_python_files');
  });
  it('rejects docs-only PRs and PRs with more than 5 python files', () => {
    assert.equal(pythonFilter(makePr({ changed_files: files('README.md') }), filters), 'too_few_python_files');
    const six = files('a.py', 'b.py', 'c.py', 'd.py', 'e.py', 'f.pyx');
    assert.equal(pythonFilter(makePr({ changed_files: six }), filters), 'too_many_python_files');
  });
  it('rejects more than 20 files in all', () => {
    const many = files('a.py', ...Array.from({ length: 20 }, (_, i) => `docs/p${i}.md`));
    assert.equal(pythonFilter(makePr({ changed_files: many }), filters), 'too_many_files');
  });
});

describe('truncated commit lists', () => {
  it('drops a PR whose commit list a source had to cut, instead of rendering part of it', () => {
    assert.equal(sharedFilter(makePr({ commits_truncated: true }), filters), 'too_many_commits');
  });
});
