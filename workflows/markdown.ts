/**
 * Markdown for the Web UI's "Current Details" panel, which renders a workflow's current details as
 * Markdown with GFM tables (Temporal UI ≥ 2.53). Pure functions: safe in workflow code.
 */

/** A cell's text with Markdown punctuation escaped (arm names like `lr_1e-4|x` stay literal) and on one line. */
export function mdText(value: unknown): string {
  return String(value ?? '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`);
}

/**
 * A link to a workflow run's page in the Web UI, relative to the UI's origin (the details panel
 * opens links in a new tab). Without `runId`, the workflow's page (the UI opens its latest run).
 */
export function mdWorkflowLink(text: string, namespace: string, workflowId: string, runId?: string): string {
  const path = `/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return `[${mdText(text)}](${runId ? `${path}/${encodeURIComponent(runId)}/history` : path})`;
}

/**
 * A GFM table: header row, separator row, one row per entry, with a blank line before and after
 * so that it is a table whatever Markdown surrounds it. Cells are taken as Markdown: pass them
 * through {@link mdText} unless they are links or emphasis made on purpose.
 */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c || ' ').join(' | ')} |`;
  return ['', line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line), ''].join('\n');
}
