/** A minimal INI reader (setup.cfg, tox.ini, pytest.ini). */

/**
 * A minimal INI reader for setup.cfg / tox.ini / pytest.ini: `[section]`, `key = value` or
 * `key: value`, indented continuation lines joined with newlines, `#` / `;` comment lines.
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let section: Map<string, string> | undefined;
  let key: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === '') continue;
    const head = /^\[([^\]]+)\]\s*$/.exec(raw);
    if (head?.[1]) {
      section = new Map();
      out.set(head[1].trim(), section);
      key = undefined;
      continue;
    }
    if (!section) continue;
    if (/^\s/.test(raw) && key !== undefined) {
      const prev = section.get(key) ?? '';
      section.set(key, prev === '' ? raw.trim() : `${prev}\n${raw.trim()}`);
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (kv?.[1]) {
      key = kv[1].trim().toLowerCase();
      section.set(key, (kv[2] ?? '').trim());
    }
  }
  return out;
}
