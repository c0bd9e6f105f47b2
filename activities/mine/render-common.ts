/** Text helpers shared by the Format A and Format B renderers. Pure logic, no I/O. */
import type { PrRecord } from '../../contracts/pr';

// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Makes text encodable as valid UTF-8: lone UTF-16 surrogates (which JSON can carry but UTF-8
 * cannot) become U+FFFD. Everything else, U+FFFD already present included, is kept as is.
 */
export function sanitizeText(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * Normalises prose (titles, bodies, commit messages, summaries): sanitised, CRLF/CR to LF,
 * leading blank lines and trailing whitespace removed. Code (file contents, patches) is never
 * passed through this: its bytes must stay exactly as in the file.
 */
export function prose(s: string): string {
  return sanitizeText(s)
    .replace(/\r\n?/g, '\n')
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
}

/** A one-line field (title, name): prose with internal newlines collapsed to spaces. */
export function oneLine(s: string): string {
  return prose(s).replace(/\s*\n\s*/g, ' ');
}

/** `text` followed by a newline unless it is empty or already ends with one. */
export function withFinalNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** `head` alone when `body` is empty, else `head` + newline + `body`. */
export function headed(head: string, body: string): string {
  return body === '' ? head : `${head}\n${body}`;
}

/**
 * The two lines under `# Repository Context`, shared by both formats: `Name: owner/repo` and
 * `Description: ...` (just `Description:` when the repository has none).
 */
export function repositoryLines(pr: Pick<PrRecord, 'repo' | 'repo_description'>): string {
  const desc = oneLine(pr.repo_description);
  return `Name: ${oneLine(pr.repo)}\n${desc ? `Description: ${desc}` : 'Description:'}`;
}
