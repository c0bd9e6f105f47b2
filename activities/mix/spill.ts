/**
 * The cleaned documents of one source, spilled to disk so that memory stays flat: token ids as
 * int32 little-endian (`tokens.bin`), the SFT mask (1 = assistant content, `mask.bin`, one byte per
 * token; all 0 for plain text), the shard JSONL line of each document (`records.jsonl`) and an
 * index of four float64 per document (`docs.bin`: token offset, token count, byte offset and byte
 * length of its JSONL line).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const SPILL_FILES = ['tokens.bin', 'mask.bin', 'records.jsonl', 'docs.bin'] as const;
export type SpillFile = (typeof SPILL_FILES)[number];

async function write(stream: WriteStream, buf: Uint8Array): Promise<void> {
  if (!stream.write(buf)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

async function end(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/** Appends cleaned documents of one source to the spill files in `dir`. */
export class SpillWriter {
  private readonly tokens: WriteStream;
  private readonly mask: WriteStream;
  private readonly records: WriteStream;
  private readonly docs: WriteStream;
  private tokenOffset = 0;
  private byteOffset = 0;
  documents = 0;

  constructor(readonly dir: string) {
    this.tokens = createWriteStream(join(dir, 'tokens.bin'));
    this.mask = createWriteStream(join(dir, 'mask.bin'));
    this.records = createWriteStream(join(dir, 'records.jsonl'));
    this.docs = createWriteStream(join(dir, 'docs.bin'));
  }

  /** Appends one document. `mask` null = plain text (all 0 under SFT). */
  async add(ids: ArrayLike<number>, mask: ArrayLike<number> | null, jsonLine: string): Promise<void> {
    const t = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) t[i] = ids[i]!;
    const m = new Uint8Array(ids.length);
    if (mask) for (let i = 0; i < ids.length; i++) m[i] = mask[i]!;
    const line = Buffer.from(jsonLine + '\n', 'utf8');
    const d = new Float64Array([this.tokenOffset, ids.length, this.byteOffset, line.length]);
    await write(this.tokens, new Uint8Array(t.buffer));
    await write(this.mask, m);
    await write(this.records, line);
    await write(this.docs, new Uint8Array(d.buffer));
    this.tokenOffset += ids.length;
    this.byteOffset += line.length;
    this.documents++;
  }

  async close(): Promise<void> {
    await Promise.all([end(this.tokens), end(this.mask), end(this.records), end(this.docs)]);
  }
}

/** Random access to one source's spilled documents. */
export class SpillReader {
  private constructor(
    private readonly index: Float64Array,
    private readonly tokens: FileHandle,
    private readonly mask: FileHandle,
    private readonly records: FileHandle
  ) {}

  /** Opens the spill files of one source (paths by file name). */
  static async open(paths: Record<SpillFile, string>): Promise<SpillReader> {
    const idx = await readFile(paths['docs.bin']);
    const index = new Float64Array(idx.buffer.slice(idx.byteOffset, idx.byteOffset + idx.byteLength));
    return new SpillReader(
      index,
      await open(paths['tokens.bin'], 'r'),
      await open(paths['mask.bin'], 'r'),
      await open(paths['records.jsonl'], 'r')
    );
  }

  /** Number of documents. */
  get documents(): number {
    return this.index.length / 4;
  }

  /** Token count of document `i`. */
  length(i: number): number {
    return this.index[i * 4 + 1]!;
  }

  /** Token ids of document `i`. */
  async ids(i: number): Promise<Int32Array> {
    const n = this.length(i);
    const buf = Buffer.alloc(n * 4);
    if (n) await this.tokens.read(buf, 0, n * 4, this.index[i * 4]! * 4);
    return new Int32Array(buf.buffer, buf.byteOffset, n);
  }

  /** SFT mask of document `i`. */
  async sftMask(i: number): Promise<Uint8Array> {
    const n = this.length(i);
    const buf = Buffer.alloc(n);
    if (n) await this.mask.read(buf, 0, n, this.index[i * 4]!);
    return buf;
  }

  /** The JSONL line of document `i` (with its newline). */
  async record(i: number): Promise<Buffer> {
    const n = this.index[i * 4 + 3]!;
    const buf = Buffer.alloc(n);
    await this.records.read(buf, 0, n, this.index[i * 4 + 2]!);
    return buf;
  }

  async close(): Promise<void> {
    await Promise.all([this.tokens.close(), this.mask.close(), this.records.close()]);
  }
}

/** Token counts of every document of a spilled source, from its `docs.bin`. */
export async function readLengths(docsBin: string): Promise<Float64Array> {
  const b = await readFile(docsBin);
  const all = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const out = new Float64Array(all.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = all[i * 4 + 1]!;
  return out;
}
