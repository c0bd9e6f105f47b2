/**
 * MinHash signatures of near dedup, kept on disk instead of in memory: signature `i` lies at byte
 * `i × numPerm × 4` of one file (uint32 values, native byte order: the file is private to the
 * process that writes it). Appends go through a small buffer (2048 signatures, 1 MiB at 128
 * values); reads, rare because only LSH candidates are read back, come from that buffer or the file.
 * Memory is flat in the number of signatures.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';

/** An append-only file of fixed-length signatures with random reads. */
export class SignatureSpill {
  private fd: number | null;
  private readonly buf: Uint32Array;
  private readonly perBuffer: number;
  /** Signatures in `buf`, not yet written. */
  private pending = 0;
  /** Signatures written to the file. */
  private flushed = 0;

  /**
   * Creates (or truncates) `path`. `numPerm` is the signature length; `bufferSignatures` how many
   * appends are buffered before one write.
   */
  constructor(
    readonly path: string,
    readonly numPerm: number,
    bufferSignatures = 2048
  ) {
    this.fd = openSync(path, 'w+');
    this.perBuffer = Math.max(1, bufferSignatures);
    this.buf = new Uint32Array(this.perBuffer * numPerm);
  }

  /** Signatures appended so far. */
  get size(): number {
    return this.flushed + this.pending;
  }

  /** Appends `sig` (length `numPerm`) and returns its index. */
  append(sig: Uint32Array): number {
    if (sig.length !== this.numPerm) throw new Error(`SignatureSpill: ${sig.length} values, need ${this.numPerm}`);
    if (this.pending === this.perBuffer) this.flush();
    this.buf.set(sig, this.pending * this.numPerm);
    return this.flushed + this.pending++;
  }

  /** Signature `i`, copied into `out` (allocated when not given). */
  read(i: number, out: Uint32Array = new Uint32Array(this.numPerm)): Uint32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.size)
      throw new Error(`SignatureSpill: no signature ${i} (size ${this.size})`);
    if (i >= this.flushed) {
      const at = (i - this.flushed) * this.numPerm;
      out.set(this.buf.subarray(at, at + this.numPerm));
      return out;
    }
    const bytes = this.numPerm * 4;
    const view = new Uint8Array(out.buffer, out.byteOffset, bytes);
    let done = 0;
    while (done < bytes) {
      const n = readSync(this.handle(), view, done, bytes - done, i * bytes + done);
      if (n === 0) throw new Error(`SignatureSpill: ${this.path} ends inside signature ${i}`);
      done += n;
    }
    return out;
  }

  /** Closes and deletes the file. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    rmSync(this.path, { force: true });
  }

  private handle(): number {
    if (this.fd === null) throw new Error(`SignatureSpill: ${this.path} is closed`);
    return this.fd;
  }

  private flush(): void {
    const view = new Uint8Array(this.buf.buffer, 0, this.pending * this.numPerm * 4);
    const at = this.flushed * this.numPerm * 4;
    let done = 0;
    while (done < view.length) done += writeSync(this.handle(), view, done, view.length - done, at + done);
    this.flushed += this.pending;
    this.pending = 0;
  }
}
