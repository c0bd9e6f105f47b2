import type { ReportData } from './data';
import { experimentBlocks, sweepBlocks, type Block, type Cell } from './blocks';
import { esc } from './svg';

const CSS = `
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:64rem;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
td[data-value]{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.text{text-align:left}
th{background:#f4f4f4}
figure{margin:1rem 0;overflow-x:auto}svg.chart{max-width:100%;height:auto}
table.facts th{text-align:left;font-weight:normal;color:#555}table.facts td{text-align:left}
details{margin:1rem 0;border:1px solid #ddd;padding:.5rem 1rem}summary{cursor:pointer;font-weight:bold}
.warn{color:#a40}
`;

/** The report's blocks: an experiment's sections, or a sweep's comparison and its arms. */
export function reportBlocks(d: ReportData): Block[] {
  const title: Block = { kind: 'heading', level: 1, text: `${d.kind === 'sweep' ? 'Sweep' : 'Experiment'} ${d.id}` };
  const warnings: Block[] = d.warnings.length
    ? [
        { kind: 'heading', level: 3, text: 'Warnings' },
        { kind: 'list', items: d.warnings },
      ]
    : [];
  const body = d.kind === 'sweep' ? sweepBlocks(d) : experimentBlocks(d.experiment);
  return [title, ...warnings, ...body];
}

/** JSON safe inside a `<script>` element (no `</script>`, no HTML comment or CDATA openers). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function htmlCell(c: Cell): string {
  if (c.href !== undefined) return `<td><a href="${esc(c.href)}">${esc(c.text)}</a></td>`;
  if (c.key === undefined) return `<td>${esc(c.text)}</td>`;
  // Numbers right-aligned; keyed text (dates, states, paths) left.
  const cls = typeof c.value === 'number' ? '' : ' class="text"';
  return `<td${cls} data-key="${esc(c.key)}" data-value="${esc(c.value)}">${esc(c.text)}</td>`;
}

function htmlBlock(b: Block): string {
  switch (b.kind) {
    case 'heading':
      return `<h${b.level}${b.anchor ? ` id="${esc(b.anchor)}"` : ''}>${esc(b.text)}</h${b.level}>`;
    case 'para':
      return `<p>${esc(b.text)}</p>`;
    case 'list':
      return `<ul class="warn">${b.items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`;
    case 'table':
      if (!b.rows.length) return '';
      return (
        `<table><thead><tr>${b.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
        b.rows.map((r) => `<tr>${r.map(htmlCell).join('')}</tr>`).join('\n') +
        `</tbody></table>`
      );
    case 'facts':
      return (
        `<table class="facts"><tbody>` +
        b.items.map((i) => `<tr><th>${esc(i.label)}</th>${htmlCell(i.cell)}</tr>`).join('\n') +
        `</tbody></table>`
      );
    case 'chart':
      return `<figure>${b.svg}</figure>`;
    case 'group':
      return `<details><summary>${esc(b.summary)}</summary>\n${b.blocks.map(htmlBlock).join('\n')}\n</details>`;
  }
}

/**
 * One self-contained HTML file: inline CSS, inline SVG charts, no script but the data block, no
 * external resource (the only URLs are links to the Temporal Web UI). Every number in a table carries `data-key` / `data-value`; the whole
 * ReportData is in `<script type="application/json" id="report-data">`.
 */
export function renderHtml(d: ReportData): string {
  const blocks = reportBlocks(d);
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(`bottega report: ${d.kind} ${d.id}`)}</title><style>${CSS}</style></head>\n<body>\n` +
    blocks.map(htmlBlock).join('\n') +
    `\n<script type="application/json" id="report-data">${scriptJson(d)}</script>\n</body></html>\n`
  );
}

/** Text safe in a Markdown table cell or paragraph: no pipes, no raw HTML, one line. */
function md(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([`*_[\]])/g, '\\$1');
}

/** A cell as Markdown: its text, or a link. */
function mdCell(c: Cell): string {
  return c.href === undefined ? md(c.text) : `[${md(c.text)}](${c.href.replace(/[\s()<>|]/g, encodeURIComponent)})`;
}

function mdBlock(b: Block, shift = 0): string {
  switch (b.kind) {
    case 'heading':
      return `${'#'.repeat(b.level + shift)} ${md(b.text)}`;
    case 'para':
      return md(b.text);
    case 'list':
      return b.items.map((i) => `- ${md(i)}`).join('\n');
    case 'table':
      if (!b.rows.length) return '';
      return [
        `| ${b.head.map(md).join(' | ')} |`,
        `| ${b.head.map(() => '---').join(' | ')} |`,
        ...b.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
      ].join('\n');
    case 'facts':
      return b.items.map((i) => `- ${md(i.label)}: ${mdCell(i.cell)}`).join('\n');
    case 'chart':
      return `_Chart: ${md(b.title)} (in the HTML report)._`;
    case 'group':
      // Headings inside a group sit one level below the group's.
      return [`${'#'.repeat(2 + shift)} ${md(b.summary)}`, ...b.blocks.map((x) => mdBlock(x, shift + 1))]
        .filter(Boolean)
        .join('\n\n');
  }
}

/** The same report as Markdown: the same tables and numbers, charts named but not drawn. */
export function renderMarkdown(d: ReportData): string {
  return (
    reportBlocks(d)
      .map((b) => mdBlock(b))
      .filter((s) => s !== '')
      .join('\n\n') + '\n'
  );
}
