/**
 * A per-process cache of parsed side files of mine sources (today: a git source's issues file).
 *
 * Without it every page of a source re-read and re-validated the whole file, so the mine stage
 * grew faster than linearly with the number of PRs (a 16k-PR repository with 16k issues spent a
 * quarter of its time there). With it a file is parsed once per worker process and content:
 *
 * - a `stat` fingerprint (path, size, mtime and ctime in ns, inode) finds the parse of an unchanged
 *   file without reading it;
 * - otherwise the bytes are read and their SHA-256 looked up, so a copy, a touch or a move of the
 *   same content reuses the parse, and changed content is parsed again;
 * - concurrent activities asking for the same file share one read and one parse (the promise is
 *   cached); a failed load is not cached, so a fixed file is read again on the next call;
 * - at most `maxEntries` parses are kept, least recently used first out.
 *
 * Cached values are shared between callers: treat them as read-only.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Options of {@link SideFileCache}. */
export interface SideFileCacheOptions {
  /** Parses kept at once (LRU); 0 disables caching, every call reads and parses the file. Default 4. */
  maxEntries?: number;
  /** What the file is, for error messages (`cannot read <what> <file>: …`). Default `file`. */
  what?: string;
}

/** Counters of a {@link SideFileCache}, for tests and benchmarks. */
export interface SideFileCacheStats {
  /** Calls answered from the stat fingerprint, without reading the file. */
  hits: number;
  /** Calls that read the file and found its content hash cached. */
  contentHits: number;
  /** Calls that parsed the file. */
  parses: number;
}

/** Parsed side files keyed by content hash, bounded, shared by concurrent callers. */
export class SideFileCache<T> {
  private maxEntries: number;
  private readonly what: string;
  /** content hash → parse (insertion order = LRU order, oldest first). */
  private readonly byHash = new Map<string, Promise<T>>();
  /** stat fingerprint → content hash; bounded like `byHash`. */
  private readonly byStat = new Map<string, string>();
  private readonly counters: SideFileCacheStats = { hits: 0, contentHits: 0, parses: 0 };

  /**
   * @param parse turns the file's bytes into the cached value; `file` is for error messages.
   *   It should throw errors that name the file and line.
   */
  constructor(
    private readonly parse: (bytes: Buffer, file: string) => T | Promise<T>,
    options: SideFileCacheOptions = {}
  ) {
    this.maxEntries = validMax(options.maxEntries ?? 4);
    this.what = options.what ?? 'file';
  }

  /** Hits, content hits and parses so far. */
  get stats(): Readonly<SideFileCacheStats> {
    return { ...this.counters };
  }

  /** Parses currently held. */
  get size(): number {
    return this.byHash.size;
  }

  /** Changes the bound (0 disables caching); drops the oldest entries above it. */
  setMaxEntries(n: number): void {
    this.maxEntries = validMax(n);
    this.evict();
  }

  /** Drops every entry and resets the counters. */
  clear(): void {
    this.byHash.clear();
    this.byStat.clear();
    Object.assign(this.counters, { hits: 0, contentHits: 0, parses: 0 });
  }

  /**
   * The parse of `file` (resolved against the cwd when relative).
   * @throws `cannot read <what> <file>: …` when it is missing or unreadable, or the parser's error.
   */
  async get(file: string): Promise<T> {
    const abs = resolve(file);
    let fingerprint: string;
    try {
      const st = await stat(abs, { bigint: true });
      fingerprint = `${abs}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}\0${st.dev}`;
    } catch (e) {
      throw new Error(`cannot read ${this.what} ${file}: ${(e as Error).message}`);
    }
    const known = this.byStat.get(fingerprint);
    const cached = known === undefined ? undefined : this.touch(known);
    if (cached) {
      this.counters.hits++;
      return cached;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(abs);
    } catch (e) {
      throw new Error(`cannot read ${this.what} ${file}: ${(e as Error).message}`);
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    const byContent = this.touch(hash);
    if (byContent) {
      this.counters.contentHits++;
      this.remember(fingerprint, hash);
      return byContent;
    }
    this.counters.parses++;
    const loading = Promise.resolve().then(() => this.parse(bytes, file));
    if (this.maxEntries === 0) return loading;
    this.byHash.set(hash, loading);
    this.remember(fingerprint, hash);
    this.evict();
    loading.catch(() => {
      // Failures are not cached: the next call reads the file again.
      if (this.byHash.get(hash) === loading) this.byHash.delete(hash);
    });
    return loading;
  }

  /** The entry for `hash`, moved to the most recently used end; undefined when absent. */
  private touch(hash: string): Promise<T> | undefined {
    const p = this.byHash.get(hash);
    if (p === undefined) return undefined;
    this.byHash.delete(hash);
    this.byHash.set(hash, p);
    return p;
  }

  private remember(fingerprint: string, hash: string): void {
    this.byStat.delete(fingerprint);
    this.byStat.set(fingerprint, hash);
  }

  private evict(): void {
    while (this.byHash.size > this.maxEntries) this.byHash.delete(this.byHash.keys().next().value!);
    // Fingerprints are small, but a file rewritten many times would add one each: keep a few per entry.
    while (this.byStat.size > this.maxEntries * 4) this.byStat.delete(this.byStat.keys().next().value!);
  }
}

function validMax(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`maxEntries must be a non-negative integer, got ${n}`);
  return n;
}
