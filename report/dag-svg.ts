/**
 * The experiment's stage graph as an inline SVG, in the style of `svg.ts`: one box per stage, in
 * columns by depth (a stage sits one column right of the deepest stage it reads from), arrows for
 * what each stage reads. Each box says the stage's status and how long its run took. Pure: the same
 * data gives the same bytes; boxes and arrows carry `data-*` attributes with their exact values.
 */
import type { DagData, DagNodeStatus } from './data';
import { duration } from './format';
import { c, esc, fit, KEPT_COLOR, PALETTE, svgOpen } from './svg';

/** Colour of each status: green ran, light blue cached, red failed, orange cancelled, grey not started. */
export const DAG_COLORS: Record<DagNodeStatus, string> = {
  ran: KEPT_COLOR,
  cached: PALETTE[3]!,
  failed: PALETTE[4]!,
  cancelled: PALETTE[1]!,
  not_started: PALETTE[6]!,
  waiting: PALETTE[6]!,
  running: PALETTE[0]!,
};

/** How a stage's run went, for its box: the duration of the run that produced its result. */
export interface DagNodeTiming {
  duration_ms: number | null;
  /** The workflow run that produced it (for a cached stage, an earlier experiment's). */
  producer?: string;
}

const BOX_W = 112;
const BOX_H = 54;
const COL_GAP = 64;
const ROW_GAP = 24;
const PAD = 4;
/** Height between the arcs of edges that skip columns. */
const LANE = 18;

/** The arrowhead at (x, y), pointing away from (fx, fy). */
function arrowHead(x: number, y: number, fx: number, fy: number, color: string): string {
  const len = Math.hypot(x - fx, y - fy) || 1;
  const [ux, uy] = [(x - fx) / len, (y - fy) / len];
  const [bx, by] = [x - ux * 8, y - uy * 8];
  const pts = [
    [x, y],
    [bx - uy * 4, by + ux * 4],
    [bx + uy * 4, by - ux * 4],
  ];
  return `<polygon points="${pts.map(([px, py]) => `${c(px!)},${c(py!)}`).join(' ')}" fill="${color}"/>`;
}

/**
 * Draws `dag` under the chart id `id`; `timing` gives each stage's run duration (from the stages
 * table: the child workflow's start and close, or the cached result's producing run).
 */
export function dagChart(opts: {
  id: string;
  title: string;
  dag: DagData;
  timing: Partial<Record<string, DagNodeTiming>>;
}): string {
  const { nodes, edges } = opts.dag;
  const depth = new Map<string, number>();
  for (const n of nodes) depth.set(n.stage, Math.max(-1, ...n.needs.map((d) => depth.get(d) ?? -1)) + 1);
  const rows = new Map<number, number>(); // boxes per column so far
  const pos = new Map<string, { x: number; y: number }>();
  // Edges skipping a column arc over the boxes: room above them, one lane per such edge.
  const span = (e: DagData['edges'][number]) => (depth.get(e.to) ?? 0) - (depth.get(e.from) ?? 0);
  // Shorter arcs in the lower lanes, so that arcs nest instead of crossing.
  const long = edges.filter((e) => span(e) > 1).sort((x, y) => span(x) - span(y));
  const top = 30 + (long.length ? 10 + LANE * long.length : 0);
  for (const n of nodes) {
    const col = depth.get(n.stage)!;
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    pos.set(n.stage, { x: PAD + col * (BOX_W + COL_GAP), y: top + row * (BOX_H + ROW_GAP) });
  }
  const cols = Math.max(1, ...[...rows.keys()].map((k) => k + 1));
  const maxRows = Math.max(1, ...rows.values());
  const W = Math.max(2 * PAD + cols * BOX_W + (cols - 1) * COL_GAP, 240);
  const H = top + maxRows * (BOX_H + ROW_GAP) - ROW_GAP + 8;

  const arrows = edges.map((e) => {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) return '';
    const label = e.what.join(', ');
    const color = '#666';
    const lane = long.indexOf(e);
    let path: string;
    let head: string;
    let lx: number;
    let ly: number;
    if (lane < 0) {
      const [x1, y1, x2, y2] = [a.x + BOX_W, a.y + BOX_H / 2, b.x - 1, b.y + BOX_H / 2];
      path = `M${c(x1)} ${c(y1)}L${c(x2)} ${c(y2)}`;
      head = arrowHead(x2, y2, x1, y1, color);
      [lx, ly] = [(x1 + x2) / 2, (y1 + y2) / 2 - 4];
    } else {
      // Over the top: from the top of the source to the top of the target, above the boxes between.
      const shift = (lane % 3) * 0.12 * BOX_W; // arrows into one box land apart
      const [x1, y1, x2, y2] = [a.x + BOX_W * 0.62 + shift, a.y, b.x + BOX_W * 0.38 - shift, b.y - 1];
      // A cubic with both control points at height k peaks at (y1 + y2) / 8 + 3k / 4: peak in its lane.
      const apex = top - LANE * (lane + 1);
      const k = (apex - (y1 + y2) / 8) / 0.75;
      path = `M${c(x1)} ${c(y1)}C${c(x1)} ${c(k)} ${c(x2)} ${c(k)} ${c(x2)} ${c(y2)}`;
      head = arrowHead(x2, y2, x2, k, color);
      [lx, ly] = [(x1 + x2) / 2, apex - 4];
    }
    return (
      `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-what="${esc(label)}">` +
      `<title>${esc(`${e.to} reads ${label || 'its input'} from ${e.from}`)}</title>` +
      `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.4"/>${head}` +
      (label
        ? `<text x="${c(lx)}" y="${c(ly)}" text-anchor="middle" font-size="10" fill="#444">${esc(fit(label, lane < 0 ? COL_GAP * 1.2 : 190))}</text>`
        : '') +
      `</g>`
    );
  });

  const boxes = nodes.map((n) => {
    const p = pos.get(n.stage)!;
    const color = DAG_COLORS[n.status] ?? '#999';
    const t = opts.timing[n.stage];
    const ms = t?.duration_ms ?? null;
    const took = ms === null ? '' : n.status === 'cached' ? `took ${duration(ms)} earlier` : `took ${duration(ms)}`;
    const tip = [
      `${n.stage}: ${n.status.replace('_', ' ')}`,
      ...(n.needs.length ? [`reads from ${n.needs.join(', ')}`] : []),
      ...(took ? [`${took}${t?.producer ? ` (${t.producer})` : ''}`] : []),
    ].join('; ');
    const dash = n.status === 'not_started' || n.status === 'waiting' ? ' stroke-dasharray="4 3"' : '';
    return (
      `<g class="stage" data-stage="${esc(n.stage)}" data-status="${esc(n.status)}" data-needs="${esc(n.needs.join(','))}"` +
      `${ms === null ? '' : ` data-duration-ms="${ms}"`}><title>${esc(tip)}</title>` +
      `<rect x="${c(p.x)}" y="${c(p.y)}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="${color}" fill-opacity="0.14" stroke="${color}" stroke-width="2"${dash}/>` +
      `<text x="${c(p.x + BOX_W / 2)}" y="${c(p.y + 17)}" text-anchor="middle" font-weight="bold">${esc(fit(n.stage, BOX_W - 8))}</text>` +
      `<text x="${c(p.x + BOX_W / 2)}" y="${c(p.y + 33)}" text-anchor="middle" fill="${color}">${esc(n.status.replace('_', ' '))}</text>` +
      (took
        ? `<text x="${c(p.x + BOX_W / 2)}" y="${c(p.y + 48)}" text-anchor="middle" font-size="10" fill="#555">${esc(fit(took, (BOX_W - 6) * 1.2))}</text>`
        : '') +
      `</g>`
    );
  });
  return `${svgOpen(opts.id, opts.title, W, H)}${arrows.join('')}${boxes.join('')}</svg>`;
}
