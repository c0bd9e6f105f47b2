import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ReportData } from './data';

/**
 * Reads the machine-checkable parts of a rendered HTML report back: the `data-key` table cells,
 * the embedded ReportData and the inline SVG charts. For tests and tools that check a report's
 * numbers against their sources.
 */

function unescape(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Every `<td data-key data-value>` cell: key → its value (as written) and its visible text. */
export function reportCells(html: string): Map<string, { value: string; text: string }> {
  const out = new Map<string, { value: string; text: string }>();
  for (const m of html.matchAll(/<td(?: class="[^"]*")? data-key="([^"]*)" data-value="([^"]*)">([^<]*)<\/td>/g))
    out.set(unescape(m[1]!), { value: unescape(m[2]!), text: unescape(m[3]!) });
  return out;
}

/** The ReportData embedded in `<script type="application/json" id="report-data">`. */
export function reportJson(html: string): ReportData {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no report-data block');
  return JSON.parse(m[1]!) as ReportData;
}

/** A parsed SVG element: its tag, attributes (without prefix) and children in order. */
export interface SvgNode {
  tag: string;
  attrs: Record<string, string>;
  children: SvgNode[];
  text: string;
}

type Ordered = Record<string, unknown>;

function toNode(o: Ordered): SvgNode | null {
  const tag = Object.keys(o).find((k) => k !== ':@');
  if (!tag || tag === '#text') return null;
  const kids = (o[tag] as Ordered[]) ?? [];
  const attrs = (o[':@'] as Record<string, string> | undefined) ?? {};
  return {
    tag,
    attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k.replace(/^@_/, ''), String(v)])),
    children: kids.map(toNode).filter((n): n is SvgNode => n !== null),
    text: kids
      .filter((k) => '#text' in k)
      .map((k) => String(k['#text']))
      .join(''),
  };
}

/**
 * Every inline `<svg>` of the report, validated as XML (throws on a malformed one) and parsed.
 */
export function reportSvgs(html: string): SvgNode[] {
  const out: SvgNode[] = [];
  for (const m of html.matchAll(/<svg[\s>][\s\S]*?<\/svg>/g)) {
    const v = XMLValidator.validate(m[0]);
    if (v !== true) throw new Error(`malformed SVG: ${v.err.msg} at line ${v.err.line}`);
    const parsed = new XMLParser({
      ignoreAttributes: false,
      preserveOrder: true,
      parseAttributeValue: false,
      parseTagValue: false,
      processEntities: true,
    }).parse(m[0]) as Ordered[];
    const node = parsed.map(toNode).find((n) => n?.tag === 'svg');
    if (!node) throw new Error('no svg element');
    out.push(node);
  }
  return out;
}

/** Depth-first list of a node and its descendants. */
export function walk(n: SvgNode): SvgNode[] {
  return [n, ...n.children.flatMap(walk)];
}

/** The SVG whose `data-chart` is `id`. */
export function chart(svgs: SvgNode[], id: string): SvgNode | undefined {
  return svgs.find((s) => s.attrs['data-chart'] === id);
}
