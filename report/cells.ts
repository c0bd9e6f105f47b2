import { count, NONE } from './format';

/**
 * The building blocks of a report, shared by the HTML and the Markdown renderers so both show
 * the same tables with the same numbers. Charts are SVG strings (the Markdown leaves them out).
 */

/** One table cell: its text, for numbers the exact value under a stable dotted key, for links the URL. */
export interface Cell {
  text: string;
  key?: string;
  value?: number | string;
  /** An http(s) link (the Temporal Web UI). */
  href?: string;
}

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string; anchor?: string }
  | { kind: 'para'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: Cell[][] }
  /** Label: value lines (run dates, links, checkpoints). */
  | { kind: 'facts'; items: { label: string; cell: Cell }[] }
  | { kind: 'chart'; svg: string; title: string }
  | { kind: 'group'; summary: string; blocks: Block[] };

/** A number cell under `key`, written by `format` (default: a count); a dash when missing. */
export const num = (key: string, v: number | null | undefined, format: (v: number) => string = count): Cell =>
  v === null || v === undefined || !Number.isFinite(v) ? { text: NONE } : { text: format(v), key, value: v };

/** A text cell. */
export const txt = (text: string): Cell => ({ text });

/** A link cell; plain text when the URL is not http(s). */
export const link = (text: string, href: string | null | undefined): Cell =>
  href && /^https?:\/\//i.test(href) ? { text, href } : { text };
