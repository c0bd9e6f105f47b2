import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIssueRefs } from '../../activities/mine/issue-links';

describe('parseIssueRefs', () => {
  it('recognises every closing keyword, case-insensitively', () => {
    const kws = ['close', 'closes', 'closed', 'fix', 'fixes', 'fixed', 'resolve', 'resolves', 'resolved'];
    kws.forEach((kw, i) => {
      assert.deepEqual(parseIssueRefs(`${kw} #${i + 1}`), [i + 1], kw);
      assert.deepEqual(parseIssueRefs(`${kw.toUpperCase()} #${i + 1}`), [i + 1], kw.toUpperCase());
    });
    assert.deepEqual(parseIssueRefs('This Fixes #12.'), [12]);
  });

  it('accepts an optional colon', () => {
    assert.deepEqual(parseIssueRefs('Fixes: #3'), [3]);
    assert.deepEqual(parseIssueRefs('Closes:#4'), [4]);
    assert.deepEqual(parseIssueRefs('resolves : #5'), [5]);
  });

  it('dedupes in order of first appearance', () => {
    assert.deepEqual(parseIssueRefs('Fixes #7, closes #2\n\nAlso fixes #7 and resolves #9'), [7, 2, 9]);
  });

  it('needs one keyword per reference and ignores plain mentions', () => {
    assert.deepEqual(parseIssueRefs('Fixes #1 and #2; see #3; related to #4'), [1]);
    assert.deepEqual(parseIssueRefs('No refs here, #5 is just mentioned'), []);
  });

  it('does not match keywords inside words or numbers followed by letters', () => {
    assert.deepEqual(parseIssueRefs('prefixes #3, unfixed #4, hotfix #5'), []);
    assert.deepEqual(parseIssueRefs('fixes #3a'), []);
    assert.deepEqual(parseIssueRefs('fixes#3'), []);
  });

  it('owner/repo#N counts only for the same repository', () => {
    const text = 'Fixes acme/widgets#8, fixes other/repo#9, closes ACME/Widgets#10';
    assert.deepEqual(parseIssueRefs(text, 'acme/widgets'), [8, 10]);
    assert.deepEqual(parseIssueRefs(text), [], 'without a repo, qualified refs are ignored');
    assert.deepEqual(parseIssueRefs(text, 'other/repo'), [9]);
  });

  it('issue URLs of the same repository count', () => {
    assert.deepEqual(parseIssueRefs('Closes https://github.com/acme/widgets/issues/21', 'acme/widgets'), [21]);
    assert.deepEqual(parseIssueRefs('Closes https://github.com/evil/widgets/issues/21', 'acme/widgets'), []);
  });

  it('handles empty and nullish input', () => {
    assert.deepEqual(parseIssueRefs(''), []);
    assert.deepEqual(parseIssueRefs(null), []);
    assert.deepEqual(parseIssueRefs(undefined), []);
  });
});
