/**
 * The WebAssembly kernel of {@link MinHasher} (activities/mix/minhash.ts): hashes the words of a
 * text and its shingles into bins with the same arithmetic as the pure TypeScript path, bit for
 * bit, in about a third of the CPU time. Source: `minhash.wat` next to this file; the committed
 * `minhash.wasm` is rebuilt from it by `npm run build:wasm` (npm `wabt`), and
 * test/unit/mix-minhash-wasm.test.ts checks that the rebuild gives the same bytes and that both
 * paths give identical signatures.
 */
import { readFileSync } from 'node:fs';
import { rootLogger } from '../logger';

/** The parts of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (mod: WasmModule) => { exports: unknown };
}
type WasmModule = { readonly __wasmModule: unique symbol };

/** What loading the kernel found: the compiled module, or why there is none. */
let compiled: WasmModule | Error | undefined;

/** The compiled module, compiled once per process; an Error when it cannot be loaded. */
function wasmModule(): WasmModule | Error {
  if (compiled === undefined) {
    try {
      // absent e.g. under `node --jitless`: then the pure path is used
      const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
      if (!api) throw new Error('WebAssembly is not available in this runtime');
      compiled = new api.Module(readFileSync(new URL('./minhash.wasm', import.meta.url)));
    } catch (e) {
      compiled = new Error(`minhash: cannot load minhash.wasm (${(e as Error).message})`);
      // once per process: engine `auto` then falls back to the pure path (same signatures, slower)
      rootLogger.warn(
        { err: compiled.message },
        'minhash: WebAssembly kernel unavailable, using the pure TypeScript path'
      );
    }
  }
  return compiled;
}

interface KernelExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  naCount: { readonly value: number };
  sawFeff: { readonly value: number };
  words(
    text: number,
    n: number,
    wa: number,
    wb: number,
    na: number,
    bm: number,
    sp: number,
    s0: number,
    s1: number,
    s2: number,
    s3: number
  ): number;
  shingles(
    wa: number,
    wb: number,
    words: number,
    size: number,
    out: number,
    occ: number,
    k: number,
    shift: number,
    seedX: number,
    seedY: number,
    pas: number,
    pbs: number
  ): number;
}

/** Where the signature starts: after the code unit table (65536 × i32) at 0. */
const SIG_AT = 1 << 18;

/**
 * Largest text (UTF-16 code units) the kernel takes; longer ones go to the pure path. Bounds the
 * kernel's memory (about 16 bytes per code unit, kept for reuse) to about 270 MB.
 */
const MAX_UNITS = 1 << 24;

/**
 * One instance of the kernel with its own memory (not shareable across threads). Call
 * {@link hashWords}, re-hash the listed words ({@link rehashWord}) with {@link setWord}, then {@link hashShingles}.
 */
export class MinHashWasmKernel {
  private readonly ex: KernelExports;
  private readonly k: number;
  private buf: Buffer;
  private i32: Int32Array;
  private u8: Uint8Array;
  private wa = 0;
  private wb = 0;
  private na = 0;

  private constructor(mod: WasmModule, k: number, table: () => Int32Array) {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly!;
    this.ex = new api.Instance(mod).exports as KernelExports;
    this.k = k;
    new Int32Array(this.ex.memory.buffer, 0, 65536).set(table());
    this.buf = Buffer.alloc(0);
    this.i32 = new Int32Array(0);
    this.u8 = new Uint8Array(0);
    this.views();
  }

  /**
   * A kernel for signatures of `k` bins, or the Error saying why WebAssembly cannot be used.
   * `table` gives the code unit table (65536 entries, layout in minhash.wat), asked for only when
   * the kernel loads.
   */
  static create(k: number, table: () => Int32Array): MinHashWasmKernel | Error {
    const mod = wasmModule();
    return mod instanceof Error ? mod : new MinHashWasmKernel(mod, k, table);
  }

  private views(): void {
    const b = this.ex.memory.buffer;
    this.buf = Buffer.from(b);
    this.i32 = new Int32Array(b);
    this.u8 = new Uint8Array(b);
  }

  /**
   * Writes `text` into memory and hashes its words with the four lane seeds; returns the word
   * count, or -1 when the text is too long for the kernel or contains U+FEFF (see minhash.ts: the
   * pure path lower-cases such texts whole). Layout: the code unit table (256 KiB), signature
   * (4k bytes), occupancy (k), text (2 bytes per unit, padded to whole 16 units plus 16),
   * whitespace bitmap (a byte per block, in 8-byte words, plus 8), positions of units to re-hash (4 per unit), word
   * hashes (2 × 4 per word), list of words to re-hash (12 per word).
   */
  hashWords(text: string, seeds: readonly [number, number, number, number]): number {
    const n = text.length;
    if (n > MAX_UNITS) return -1;
    const maxWords = (n >> 1) + 1;
    const padded = ((n + 15) & ~15) + 16;
    const textAt = (SIG_AT + 5 * this.k + 15) & ~15;
    const bm = textAt + 2 * padded;
    // a byte per block, in whole 64-bit windows plus one (minhash.wat fills the tail)
    const sp = bm + ((padded / 8 + 15) & ~7);
    this.wa = sp + 4 * n;
    this.wb = this.wa + 4 * maxWords;
    this.na = this.wb + 4 * maxWords;
    const need = this.na + 12 * maxWords;
    const have = this.ex.memory.buffer.byteLength;
    if (need > have) {
      this.ex.memory.grow(Math.ceil((need - have) / 65536));
      this.views();
    }
    this.buf.write(text, textAt, 'utf16le');
    const words = this.ex.words(textAt, n, this.wa, this.wb, this.na, bm, sp, seeds[0], seeds[1], seeds[2], seeds[3]);
    return this.ex.sawFeff.value ? -1 : words;
  }

  /** Words the table cannot lower-case (a -3 entry), which the caller must re-hash lower-cased. */
  get rehashCount(): number {
    return this.ex.naCount.value;
  }

  /** The `i`-th word to re-hash: [word index, start, end] (code unit offsets into the text). */
  rehashWord(i: number): [number, number, number] {
    const p = (this.na >> 2) + 3 * i;
    return [this.i32[p]!, this.i32[p + 1]!, this.i32[p + 2]!];
  }

  /** Replaces the hashes of word `w`. */
  setWord(w: number, ha: number, hb: number): void {
    this.i32[(this.wa >> 2) + w] = ha;
    this.i32[(this.wb >> 2) + w] = hb;
  }

  /** The hashes of word `w` as [lane a, lane b]. */
  word(w: number): [number, number] {
    return [this.i32[(this.wa >> 2) + w]!, this.i32[(this.wb >> 2) + w]!];
  }

  /**
   * Hashes the shingles of `size` words into `out` (the bins' minima, 0xffffffff when empty) and
   * `occ` (1 for a bin some shingle fell into); returns the shingle count.
   */
  hashShingles(
    words: number,
    size: number,
    seeds: { seedX: number; seedY: number; pas: number; pbs: number },
    out: Uint32Array,
    occ: Uint8Array
  ): number {
    const k = this.k;
    const cnt = this.ex.shingles(
      this.wa,
      this.wb,
      words,
      size,
      SIG_AT,
      SIG_AT + 4 * k,
      k,
      // 32 - log2(k) for a power of two k > 1, else 0 (multiply and shift in 64 bits)
      k > 1 && (k & (k - 1)) === 0 ? 32 - Math.log2(k) : 0,
      seeds.seedX,
      seeds.seedY,
      seeds.pas,
      seeds.pbs
    );
    out.set(new Uint32Array(this.ex.memory.buffer, SIG_AT, k));
    occ.set(this.u8.subarray(SIG_AT + 4 * k, SIG_AT + 5 * k));
    return cnt;
  }
}
