/**
 * Megatron-LM `MMIDIDX` index files (version 1), as docs/shards.md specifies: every sequence is its
 * own document. Writer and reader (the reader is what tests and the finalize recount use).
 */

export const MMIDIDX_MAGIC = Buffer.from('MMIDIDX\x00\x00', 'latin1');
/** Megatron dtype codes and element sizes. */
export const DTYPE = { uint8: { code: 1, size: 1 }, int32: { code: 4, size: 4 } } as const;

/** Bytes of the `.idx` for sequences of the given element counts. */
export function buildIndex(dtype: keyof typeof DTYPE, lengths: ArrayLike<number>): Buffer {
  const n = lengths.length;
  const size = DTYPE[dtype].size;
  const buf = Buffer.alloc(9 + 8 + 1 + 8 + 8 + 4 * n + 8 * n + 8 * (n + 1));
  let o = MMIDIDX_MAGIC.copy(buf, 0);
  o = buf.writeBigUInt64LE(1n, o);
  o = buf.writeUInt8(DTYPE[dtype].code, o);
  o = buf.writeBigUInt64LE(BigInt(n), o);
  o = buf.writeBigUInt64LE(BigInt(n + 1), o);
  for (let i = 0; i < n; i++) o = buf.writeInt32LE(lengths[i]!, o);
  let ptr = 0;
  for (let i = 0; i < n; i++) {
    o = buf.writeBigInt64LE(BigInt(ptr), o);
    ptr += lengths[i]! * size;
  }
  for (let i = 0; i <= n; i++) o = buf.writeBigInt64LE(BigInt(i), o);
  return buf;
}

/** A parsed `.idx`. */
export interface IndexFile {
  dtypeCode: number;
  lengths: number[];
  pointers: number[];
  docIndex: number[];
}

/** Parses an `.idx` (throws on a bad magic or version). */
export function parseIndex(buf: Buffer): IndexFile {
  if (!buf.subarray(0, 9).equals(MMIDIDX_MAGIC)) throw new Error('not an MMIDIDX index (bad magic)');
  let o = 9;
  const version = buf.readBigUInt64LE(o);
  o += 8;
  if (version !== 1n) throw new Error(`MMIDIDX version ${version}, expected 1`);
  const dtypeCode = buf.readUInt8(o++);
  const n = Number(buf.readBigUInt64LE(o));
  o += 8;
  const docs = Number(buf.readBigUInt64LE(o));
  o += 8;
  const lengths: number[] = [];
  for (let i = 0; i < n; i++, o += 4) lengths.push(buf.readInt32LE(o));
  const pointers: number[] = [];
  for (let i = 0; i < n; i++, o += 8) pointers.push(Number(buf.readBigInt64LE(o)));
  const docIndex: number[] = [];
  for (let i = 0; i < docs; i++, o += 8) docIndex.push(Number(buf.readBigInt64LE(o)));
  if (o !== buf.length) throw new Error(`MMIDIDX: ${buf.length - o} trailing bytes`);
  return { dtypeCode, lengths, pointers, docIndex };
}
