/**
 * Tiny dependency-free SVG charts for reports. Every chart is one `<svg>` element meant to be
 * inlined in HTML (no xmlns, no external reference); all text is escaped; output is a pure function
 * of the input, so the same data gives the same bytes. Marks carry `data-*` attributes with their
 * exact values, so tests (and curious readers) can check the numbers a chart shows.
 */

import { count, pct, si } from './format';

const FONT = 'font-family="system-ui,sans-serif" font-size="12"';
export const CHAR_W = 6.6; // rough width of a 12px character, for truncating and placing labels

/** Colour-blind-safe palette (Okabe-Ito, then Tableau), used in order. */
export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#882255',
  '#999999',
  '#8c564b',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#9467bd',
];
/** The colour of what is kept in a funnel. */
export const KEPT_COLOR = '#009E73';

/** Escapes text for XML/HTML text and attribute values, dropping characters XML cannot hold. */
export function esc(s: unknown): string {
  return (
    String(s)
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** A coordinate with at most one decimal. */
export function c(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Cuts a label to `width` pixels, with an ellipsis. */
export function fit(label: string, width: number): string {
  const max = Math.max(1, Math.floor(width / CHAR_W));
  return label.length <= max ? label : `${label.slice(0, Math.max(0, max - 1))}…`;
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

export function svgOpen(id: string, title: string, w: number, h: number): string {
  return (
    `<svg class="chart" data-chart="${esc(id)}" viewBox="0 0 ${c(w)} ${c(h)}" width="${c(w)}" height="${c(h)}" role="img" aria-label="${esc(title)}" ${FONT}>` +
    `<title>${esc(title)}</title>` +
    `<text x="0" y="14" font-weight="bold" font-size="13">${esc(title)}</text>`
  );
}

/** Legend entries as swatches, wrapped to `width`, starting at y; returns the markup and its height. */
function legend(entries: { label: string; color: string }[], x0: number, y0: number, width: number) {
  let x = x0;
  let y = y0;
  const parts: string[] = [];
  for (const e of entries) {
    const label = fit(e.label, 200);
    const w = 18 + label.length * CHAR_W + 14;
    if (x > x0 && x + w > x0 + width) {
      x = x0;
      y += 18;
    }
    parts.push(
      `<g class="legend" data-series="${esc(e.label)}"><rect x="${c(x)}" y="${c(y - 10)}" width="12" height="12" fill="${e.color}"/>` +
        `<text x="${c(x + 16)}" y="${c(y)}">${esc(label)}</text></g>`
    );
    x += w;
  }
  return { svg: parts.join(''), height: entries.length ? y - y0 + 18 : 0 };
}

/** Dark text on light fills, white on dark ones (relative luminance of a `#rrggbb` colour). */
function textOn(fill: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(fill);
  if (!m) return '#fff';
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((h) => parseInt(h, 16) / 255);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b! > 0.6 ? '#222' : '#fff';
}

/** Assigns palette colours to labels in first-seen order; `fixed` wins. */
function colorMap(labels: string[], fixed: Record<string, string> = {}): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  for (const l of labels) {
    if (m.has(l)) continue;
    m.set(l, fixed[l] ?? PALETTE[i++ % PALETTE.length]!);
  }
  return m;
}

/** One bar of a stacked bar chart. */
export interface StackedRow {
  label: string;
  segments: { label: string; value: number }[];
}

/**
 * Horizontal stacked bars on one scale (the longest row spans the width): a funnel (kept plus
 * each drop reason) or a composition (tokens per source). Each row's total is written at its end.
 */
export function stackedBars(opts: {
  id: string;
  title: string;
  rows: StackedRow[];
  /** Fixed colours by segment label (e.g. `kept`). */
  colors?: Record<string, string>;
  width?: number;
}): string {
  const W = opts.width ?? 760;
  const labelW = 170;
  const totalW = 70;
  const barW = W - labelW - totalW;
  const rowH = 20;
  const gap = 8;
  const top = 28;
  const totals = opts.rows.map((r) => r.segments.reduce((a, s) => a + Math.max(0, s.value), 0));
  const max = Math.max(1, ...totals);
  const colors = colorMap(
    opts.rows.flatMap((r) => r.segments.filter((s) => s.value > 0).map((s) => s.label)),
    opts.colors
  );
  const body: string[] = [];
  opts.rows.forEach((row, i) => {
    const y = top + i * (rowH + gap);
    body.push(
      `<g class="row" data-row="${esc(row.label)}" data-total="${totals[i]}">` +
        `<text x="${c(labelW - 6)}" y="${c(y + 14)}" text-anchor="end"><title>${esc(row.label)}</title>${esc(fit(row.label, labelW - 8))}</text>`
    );
    let x = labelW;
    for (const s of row.segments) {
      if (s.value <= 0) continue;
      const w = (s.value / max) * barW;
      body.push(
        `<rect x="${c(x)}" y="${c(y)}" width="${c(Math.max(w, 0.5))}" height="${rowH}" fill="${colors.get(s.label)}" data-segment="${esc(s.label)}" data-value="${s.value}">` +
          `<title>${esc(`${row.label} · ${s.label}: ${count(s.value)}`)}</title></rect>`
      );
      const text = si(s.value);
      if (w > text.length * CHAR_W + 6)
        body.push(
          `<text x="${c(x + w / 2)}" y="${c(y + 14)}" text-anchor="middle" fill="${textOn(colors.get(s.label)!)}" pointer-events="none">${esc(text)}</text>`
        );
      x += w;
    }
    body.push(`<text x="${c(x + 4)}" y="${c(y + 14)}">${esc(si(totals[i]!))}</text></g>`);
  });
  const legendY = top + opts.rows.length * (rowH + gap) + 14;
  const lg = legend(
    [...colors].map(([label, color]) => ({ label, color })),
    labelW,
    legendY,
    W - labelW
  );
  const H = legendY + lg.height + 4;
  return `${svgOpen(opts.id, opts.title, W, H)}${body.join('')}${lg.svg}</svg>`;
}

/** One line of a line chart. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

/** Axes with ticks and grid lines; returns the markup and the scales. */
function axes(
  box: { x: number; y: number; w: number; h: number },
  xr: [number, number],
  yr: [number, number],
  labels: { x: string; y: string },
  fmt: { x: (v: number) => string; y: (v: number) => string },
  xTicks: boolean
) {
  const yt = niceTicks(yr[0], yr[1]);
  const xt = niceTicks(xr[0], xr[1], 6);
  const x0 = xt[0]!;
  const x1 = xt[xt.length - 1]!;
  const y0 = yt[0]!;
  const y1 = yt[yt.length - 1]!;
  const sx = (v: number) => box.x + ((v - x0) / (x1 - x0 || 1)) * box.w;
  const sy = (v: number) => box.y + box.h - ((v - y0) / (y1 - y0 || 1)) * box.h;
  const out: string[] = [`<g class="axes" stroke="#ccc" fill="none">`];
  for (const t of yt) out.push(`<line x1="${c(box.x)}" x2="${c(box.x + box.w)}" y1="${c(sy(t))}" y2="${c(sy(t))}"/>`);
  out.push(
    `<line x1="${c(box.x)}" x2="${c(box.x)}" y1="${c(box.y)}" y2="${c(box.y + box.h)}" stroke="#333"/>`,
    `<line x1="${c(box.x)}" x2="${c(box.x + box.w)}" y1="${c(box.y + box.h)}" y2="${c(box.y + box.h)}" stroke="#333"/></g>`
  );
  for (const t of yt)
    out.push(`<text x="${c(box.x - 6)}" y="${c(sy(t) + 4)}" text-anchor="end">${esc(fmt.y(t))}</text>`);
  if (xTicks)
    for (const t of xt)
      out.push(`<text x="${c(sx(t))}" y="${c(box.y + box.h + 16)}" text-anchor="middle">${esc(fmt.x(t))}</text>`);
  out.push(
    `<text x="${c(box.x + box.w / 2)}" y="${c(box.y + box.h + 34)}" text-anchor="middle">${esc(labels.x)}</text>`,
    `<text transform="translate(14 ${c(box.y + box.h / 2)}) rotate(-90)" text-anchor="middle">${esc(labels.y)}</text>`
  );
  return { svg: out.join(''), sx, sy };
}

/**
 * Lines over a numeric x axis (loss against step), with a legend. `markers` are dashed vertical
 * lines with a label (where a training stage starts).
 */
export function lineChart(opts: {
  id: string;
  title: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  markers?: { x: number; label: string }[];
  width?: number;
}): string {
  const W = opts.width ?? 760;
  const box = { x: 64, y: 30, w: W - 84, h: 240 };
  const pts = opts.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const markers = (opts.markers ?? []).filter((m) => Number.isFinite(m.x));
  const xs = [...pts.map((p) => p.x), ...(pts.length ? markers.map((m) => m.x) : [])];
  const ys = pts.map((p) => p.y);
  const xr: [number, number] = pts.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const yr: [number, number] = pts.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const ax = axes(box, xr, yr, { x: opts.xLabel, y: opts.yLabel }, { x: si, y: si }, true);
  const marks = markers.map(
    (m) =>
      `<g class="boundary" data-x="${m.x}" data-label="${esc(m.label)}"><title>${esc(`${m.label} starts at ${opts.xLabel} ${m.x}`)}</title>` +
      `<line x1="${c(ax.sx(m.x))}" x2="${c(ax.sx(m.x))}" y1="${c(box.y)}" y2="${c(box.y + box.h)}" stroke="#666" stroke-dasharray="4 3"/>` +
      `<text x="${c(ax.sx(m.x) + 3)}" y="${c(box.y + 10)}" fill="#444">${esc(fit(m.label, 120))}</text></g>`
  );
  const colors = colorMap(opts.series.map((s) => s.name));
  const lines = opts.series.map((s) => {
    const p = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
    const d = p.map((q, i) => `${i ? 'L' : 'M'}${c(ax.sx(q.x))} ${c(ax.sy(q.y))}`).join('');
    const first = p[0];
    const last = p[p.length - 1];
    return (
      `<path class="series" d="${d || 'M0 0'}" fill="none" stroke="${colors.get(s.name)}" stroke-width="1.6" data-series="${esc(s.name)}" data-points="${p.length}"` +
      `${first && last ? ` data-x-first="${first.x}" data-x-last="${last.x}" data-last="${last.y}"` : ''}><title>${esc(s.name)}</title></path>`
    );
  });
  const lg = legend(
    [...colors].map(([label, color]) => ({ label, color })),
    box.x,
    box.y + box.h + 56,
    box.w
  );
  const H = box.y + box.h + 56 + lg.height;
  return `${svgOpen(opts.id, opts.title, W, H)}${ax.svg}${marks.join('')}${lines.join('')}${lg.svg}</svg>`;
}

/** One estimate with its interval. `x` places it on a numeric axis; otherwise items are spread evenly. */
export interface IntervalItem {
  label: string;
  value: number;
  low: number | null;
  high: number | null;
  x?: number;
}

/**
 * Points with 95% error bars: per arm (categorical x) or against a number such as training
 * tokens (numeric x, when every item has `x`). `percent` formats the y axis as percentages.
 */
export function intervalChart(opts: {
  id: string;
  title: string;
  items: IntervalItem[];
  yLabel: string;
  xLabel?: string;
  percent?: boolean;
  width?: number;
}): string {
  const W = opts.width ?? 760;
  const numeric = opts.items.length > 0 && opts.items.every((i) => typeof i.x === 'number' && Number.isFinite(i.x));
  const box = { x: 64, y: 30, w: W - 84, h: 220 };
  const vals = opts.items.flatMap((i) => [i.value, i.low ?? i.value, i.high ?? i.value]).filter(Number.isFinite);
  const yr: [number, number] = vals.length
    ? [Math.min(0, ...vals), Math.max(...vals, opts.percent ? 0 : -Infinity)]
    : [0, 1];
  const xs = opts.items.map((i) => i.x ?? 0);
  // Numeric x: a margin on both sides so the outermost points and their labels stay inside.
  const span = Math.max(...xs) - Math.min(...xs) || Math.abs(xs[0] ?? 1) || 1;
  const xr: [number, number] = numeric ? [Math.min(...xs) - 0.08 * span, Math.max(...xs) + 0.08 * span] : [0, 1];
  const yfmt = opts.percent ? pct : si;
  const ax = axes(box, xr, yr, { x: opts.xLabel ?? '', y: opts.yLabel }, { x: si, y: yfmt }, numeric);
  const n = opts.items.length;
  const slot = box.w / Math.max(1, n);
  const px = (i: number) => (numeric ? ax.sx(opts.items[i]!.x!) : box.x + slot * (i + 0.5));
  const marks = opts.items.map((it, i) => {
    const x = px(i);
    const color = PALETTE[i % PALETTE.length]!;
    const parts = [
      `<g class="estimate" data-label="${esc(it.label)}" data-value="${it.value}"${it.low !== null ? ` data-low="${it.low}"` : ''}${it.high !== null ? ` data-high="${it.high}"` : ''}${numeric ? ` data-x="${it.x}"` : ''}>`,
      `<title>${esc(`${it.label}: ${yfmt(it.value)}${it.low !== null && it.high !== null ? ` [${yfmt(it.low)}, ${yfmt(it.high)}]` : ''}`)}</title>`,
    ];
    if (it.low !== null && it.high !== null) {
      const [a, b] = [ax.sy(it.low), ax.sy(it.high)];
      parts.push(
        `<line x1="${c(x)}" x2="${c(x)}" y1="${c(a)}" y2="${c(b)}" stroke="${color}" stroke-width="1.6"/>`,
        `<line x1="${c(x - 6)}" x2="${c(x + 6)}" y1="${c(a)}" y2="${c(a)}" stroke="${color}" stroke-width="1.6"/>`,
        `<line x1="${c(x - 6)}" x2="${c(x + 6)}" y1="${c(b)}" y2="${c(b)}" stroke="${color}" stroke-width="1.6"/>`
      );
    }
    parts.push(`<circle cx="${c(x)}" cy="${c(ax.sy(it.value))}" r="4" fill="${color}"/>`);
    if (!numeric)
      parts.push(
        `<text x="${c(x)}" y="${c(box.y + box.h + 16)}" text-anchor="middle">${esc(fit(it.label, slot - 4))}</text>`
      );
    else {
      const right = x > box.x + box.w * 0.75; // label to the left of points near the right edge
      parts.push(
        `<text x="${c(right ? x - 7 : x + 7)}" y="${c(ax.sy(it.value) - 6)}"${right ? ' text-anchor="end"' : ''}>${esc(fit(it.label, 140))}</text>`
      );
    }
    parts.push('</g>');
    return parts.join('');
  });
  const H = box.y + box.h + 44;
  return `${svgOpen(opts.id, opts.title, W, H)}${ax.svg}${marks.join('')}</svg>`;
}
