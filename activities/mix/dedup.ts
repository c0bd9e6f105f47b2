/**
 * Exact and near duplicate detection across every source of a mix (first occurrence wins, in the
 * order of `mix.sources`, then file order).
 */
import { createHash } from 'node:crypto';
import { MinHashLsh, MinHasher, type MinHashParams } from './minhash';

/** Text as exact dedup compares it: NFC, whitespace runs collapsed to one space, trimmed. */
export function normalizeForHash(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/** Exact dedup by a 128-bit hash of the normalized text. */
export class ExactDedup {
  private readonly seen = new Map<string, string>();

  /** The id of the earlier document with the same normalized text, or null (and remembers this one). */
  check(text: string, id: string): string | null {
    const key = createHash('sha256').update(normalizeForHash(text)).digest('base64').slice(0, 22);
    const prev = this.seen.get(key);
    if (prev !== undefined) return prev;
    this.seen.set(key, id);
    return null;
  }
}

/**
 * Near dedup with MinHash LSH (`minhash.ts`): a document sharing an LSH band with an earlier kept
 * document is a near duplicate of it. Only kept documents are indexed. Memory is about
 * 16 bytes per (kept document, band) plus the kept documents' ids.
 */
export class NearDedup {
  private readonly hasher: MinHasher;
  private readonly lsh: MinHashLsh;
  /** LSH id → document id; null for documents that were inserted but then removed. */
  private readonly ids: (string | null)[] = [];

  constructor(params: MinHashParams) {
    this.hasher = new MinHasher(params);
    this.lsh = new MinHashLsh(this.hasher);
  }

  /**
   * The id of the earliest kept document that `text` is a near duplicate of, or null. Call
   * {@link forget} when a document that returned null is removed later for another reason.
   */
  check(text: string, id: string): string | null {
    const sig = this.hasher.signature(text);
    const candidates = this.lsh.queryInsert(sig);
    for (const c of candidates) {
      const prev = this.ids[c];
      if (prev !== null && prev !== undefined) {
        this.ids.push(null);
        return prev;
      }
    }
    this.ids.push(id);
    return null;
  }

  /** Marks the last checked document as removed (it will not be reported as a match). */
  forgetLast(): void {
    if (this.ids.length) this.ids[this.ids.length - 1] = null;
  }
}
