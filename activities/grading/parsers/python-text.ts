/**
 * Python `str` semantics the official SWE-bench parsers rely on, for exact ports: what
 * `str.split()`/`str.strip()` and the `re` module's `\s`, `\d`, `.` , `^`/`$` (MULTILINE) match.
 */

/** Python's whitespace (`str.isspace`, `re`'s `\s` on str patterns); wider than ASCII, not JS's `\s`. */
export const PY_WS = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const WS_RUN = new RegExp(`${PY_WS}+`, 'u');
const WS_LEAD = new RegExp(`^${PY_WS}+`, 'u');
const WS_TRAIL = new RegExp(`${PY_WS}+$`, 'u');

/** `s.split()`: runs of whitespace separate, empty fields dropped. */
export function pySplit(s: string): string[] {
  return s.split(WS_RUN).filter((x) => x !== '');
}

/** `s.strip()`. */
export function pyStrip(s: string): string {
  return s.replace(WS_LEAD, '').replace(WS_TRAIL, '');
}

/** `s.lstrip()`. */
export function pyLstrip(s: string): string {
  return s.replace(WS_LEAD, '');
}

/** `s.rsplit(sep, 1)[0]`. */
export function pyRsplitFirst(s: string, sep: string): string {
  const at = s.lastIndexOf(sep);
  return at < 0 ? s : s.slice(0, at);
}

/** The file text Python's `open(path).read()` sees: universal newlines (`\r\n` and `\r` → `\n`). */
export function universalNewlines(s: string): string {
  return s.replace(/\r\n?/g, '\n');
}

/** Thrown where the Python original raises (e.g. `IndexError` on `"FAIL:".split()[1]`). */
export class PythonParserError extends Error {}

/** A status map built in insertion order, as a Python dict (re-assigning keeps a key's place). */
export class PyDict {
  private readonly m = new Map<string, string>();
  set(k: string, v: string): void {
    this.m.set(k, v);
  }
  toObject(): Record<string, string> {
    return Object.fromEntries(this.m);
  }
}
