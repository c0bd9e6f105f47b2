import { formatDuration } from '../cli/ls';

/**
 * How a report writes numbers, one rule per kind, used by every table, chart and sentence of it
 * (HTML and Markdown alike). Exact values stay in the `data-value` attributes and the JSON block;
 * these are only what a reader sees:
 *
 * | kind | rule | example |
 * | --- | --- | --- |
 * | counts (PRs, documents, steps) | integer, thousands separated | `12,345` |
 * | tokens | SI suffix, 3 significant digits | `988k`, `1.23M`, `512` |
 * | losses | 3 decimals | `7.250` |
 * | rates, shares | percent, 1 decimal | `22.0%` |
 * | rate differences | percentage points, signed, 1 decimal | `+12.0 pp` |
 * | factors (repetition) | `×`, up to 2 decimals | `×2`, `×1.33` |
 * | durations | as `bottega ls`: h/m/s, the two largest units | `1h02m`, `3m05s`, `42s` |
 * | dates | UTC, to the second | `2025-01-02 03:04:05 UTC` |
 * | hyperparameters | as written, small ones in exponent form | `8e-5`, `1024`, `0.05` |
 * | axis ticks | SI suffix, 3 significant digits | `1.5k`, `0.25` |
 *
 * A missing value is an en dash.
 */

/** What a missing or non-finite value reads as. */
export const NONE = '–';

const ok = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** A count: integer with thousands separators (a fraction keeps up to 4 significant digits). */
export function count(v: number | null | undefined): string {
  if (!ok(v)) return NONE;
  return Number.isInteger(v) ? v.toLocaleString('en-US') : String(+v.toPrecision(4));
}

/** SI form with 3 significant digits: 987654 → `988k`, 1228800 → `1.23M`, 0.1234 → `0.123`. */
export function si(v: number | null | undefined): string {
  if (!ok(v)) return NONE;
  // The largest suffix whose rounded quotient is at least 1 (999,999 → `1M`, not `1000k`).
  for (const [div, suf] of [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const) {
    const q = +(v / div).toPrecision(3);
    if (Math.abs(q) >= 1) return `${q}${suf}`;
  }
  return String(+v.toPrecision(3));
}

/** Tokens: SI suffix, 3 significant digits; fewer than 1,000 as the integer. */
export function tokens(v: number | null | undefined): string {
  if (!ok(v)) return NONE;
  return Math.abs(v) < 1e3 ? String(Math.round(v)) : si(v);
}

/** A loss: 3 decimals. */
export function loss(v: number | null | undefined): string {
  return ok(v) ? v.toFixed(3) : NONE;
}

/** A rate or share as a percentage with 1 decimal. */
export function pct(v: number | null | undefined): string {
  return ok(v) ? `${(v * 100).toFixed(1)}%` : NONE;
}

/** A difference of rates in percentage points, signed, 1 decimal. */
export function pp(v: number | null | undefined): string {
  if (!ok(v)) return NONE;
  const s = (v * 100).toFixed(1);
  return s === '0.0' || s === '-0.0' ? '0.0 pp' : `${s.startsWith('-') ? '' : '+'}${s} pp`;
}

/** A factor such as a repetition: `×` and up to 2 decimals. */
export function factor(v: number | null | undefined): string {
  return ok(v) ? `×${+v.toFixed(2)}` : NONE;
}

/** A duration in milliseconds, as `bottega ls` writes it: `1h02m`, `3m05s`, `42s`, `2d03h`. */
export function duration(ms: number | null | undefined): string {
  return ok(ms) && ms >= 0 ? formatDuration(ms) : NONE;
}

/** An ISO 8601 time as `2025-01-02 03:04:05 UTC`. */
export function date(iso: string | null | undefined): string {
  if (!iso) return NONE;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? NONE : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A hyperparameter or setting as written: exact, with small numbers (below 0.001) in exponent form. */
export function param(v: unknown): string {
  if (v === null || v === undefined) return NONE;
  if (typeof v === 'number') return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
