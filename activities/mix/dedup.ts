/**
 * Exact and near duplicate detection across every source of a mix (first occurrence wins, in the
 * order of `mix.sources`, then file order).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { MinHashLsh, MinHasher, jaccardEstimate, lshThreshold, type MinHashParams } from './minhash';
import { SignatureSpill } from './signature-spill';

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

/** A confirmed near duplicate: the kept document it matches and their estimated Jaccard similarity. */
export interface NearMatch {
  id: string;
  similarity: number;
}

/** Options of {@link NearDedup}. */
export interface NearDedupOptions {
  /** Directory for the signature spill file (`near-signatures.bin`), deleted by {@link NearDedup.close}. */
  dir: string;
  /**
   * Estimated Jaccard similarity a candidate needs to count as a duplicate; default
   * {@link lshThreshold}`(bands, rows)` (≈ 0.707 for 16 × 8). 0 = every LSH candidate counts.
   */
  threshold?: number;
}

/**
 * Near dedup with MinHash LSH (`minhash.ts`): a document sharing an LSH band with an earlier kept
 * document is a candidate, and a near duplicate of it when their estimated Jaccard similarity
 * ({@link jaccardEstimate}) reaches the threshold; candidates are tried in input order and the
 * first confirmed one is the match. Every checked document goes into the LSH index (removed ones
 * are never matched) and its signature into a spill file ({@link SignatureSpill}), from which a
 * candidate's signature is read back by offset. Memory: the LSH index (about 30 bytes per document
 * and band, `minhash.ts`), the kept documents' ids and a fixed buffer of 2048 signatures;
 * signatures cost `numPerm × 4` bytes of disk per document.
 */
export class NearDedup {
  private readonly hasher: MinHasher;
  private readonly lsh: MinHashLsh;
  private readonly sigs: SignatureSpill;
  private readonly scratch: Uint32Array;
  /** LSH id → document id; null for documents that were inserted but then removed. */
  private readonly ids: (string | null)[] = [];
  /** The confirmation threshold in use. */
  readonly threshold: number;

  constructor(params: MinHashParams, options: NearDedupOptions) {
    this.hasher = new MinHasher(params);
    this.lsh = new MinHashLsh(this.hasher);
    this.threshold = options.threshold ?? lshThreshold(params.bands, params.rows);
    this.sigs = new SignatureSpill(join(options.dir, 'near-signatures.bin'), params.numPerm);
    this.scratch = new Uint32Array(params.numPerm);
  }

  /**
   * The earliest kept document that `text` is a confirmed near duplicate of, or null (then this
   * document is kept and indexed). Call {@link forgetLast} when a document that returned null is
   * removed later for another reason.
   */
  check(text: string, id: string): NearMatch | null {
    return this.checkSignature(this.hasher.signature(text), id);
  }

  /** {@link check} for a signature computed elsewhere (same parameters). */
  checkSignature(sig: Uint32Array, id: string): NearMatch | null {
    const candidates = this.lsh.queryInsert(sig);
    this.sigs.append(sig);
    for (const c of candidates) {
      const prev = this.ids[c];
      if (prev === null || prev === undefined) continue;
      const similarity = jaccardEstimate(sig, this.sigs.read(c, this.scratch));
      if (similarity >= this.threshold) {
        this.ids.push(null);
        return { id: prev, similarity };
      }
    }
    this.ids.push(id);
    return null;
  }

  /** Marks the last checked document as removed (it will not be reported as a match). */
  forgetLast(): void {
    if (this.ids.length) this.ids[this.ids.length - 1] = null;
  }

  /** Closes and deletes the signature spill file. */
  close(): void {
    this.sigs.close();
  }
}
