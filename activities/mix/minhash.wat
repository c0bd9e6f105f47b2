;; The MinHash kernel of activities/mix/minhash.ts as WebAssembly: the same hashes, bit for bit
;; (test/unit/mix-minhash-wasm.test.ts checks that on random texts, and that rebuilding this file
;; with `npm run build:wasm` (npm `wabt`) gives the committed minhash.wasm byte for byte).
;; The caller (minhash-wasm.ts) puts a code unit table at address 0 and the text as UTF-16 code
;; units after it, calls `words` (one hash pair per word, lower-cased through the table; words
;; the table cannot lower-case are listed for the caller to re-hash with toLowerCase), then
;; `shingles` (rolling hash over the word hashes, bins and minima); densification stays in
;; TypeScript.
(module
  (memory (export "memory") 5)
  (global $naCount (export "naCount") (mut i32) (i32.const 0))
  ;; 1 when the last text had a U+FEFF (whitespace that the caller must handle on its own path)
  (global $sawFeff (export "sawFeff") (mut i32) (i32.const 0))

  (func $fmix32 (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))

;; The code unit table: 65536 i32 at address 0, per UTF-16 code unit: -1 whitespace, -2 U+FEFF,
  ;; -3 a unit whose lower case needs its context (a surrogate, U+03A3 Σ, a unit that lower-cases to
  ;; more than one), the lower-case unit for other ASCII (≥ 0), and 0x80000000 | the lower-case unit
  ;; for other non-ASCII units (< -3). One load classifies and lower-cases a unit, and the inner
  ;; word loop runs while the entry is ≥ 0 (ASCII).

  ;; Hashes the words of the n code units at $text into $wa[w], $wb[w]; lists the words with a -2
  ;; or -3 unit as (word, start, end) triples of i32 at $na (count in naCount) for the caller to
  ;; re-hash. The code unit after the text must be writable (a space is put there, so the word
  ;; loop needs no end test). Returns the word count; the hashes are meaningless when sawFeff is set.
  (func (export "words")
    (param $text i32) (param $n i32) (param $wa i32) (param $wb i32) (param $na i32)
    (param $seedA i32) (param $seedB i32) (result i32)
    (local $p i32) (local $end i32) (local $t i32) (local $a i32) (local $b i32) (local $start i32)
    (local $w i32) (local $len i32) (local $nac i32) (local $feff i32) (local $cx i32)
    (local.set $p (local.get $text))
    (local.set $end (i32.add (local.get $text) (i32.shl (local.get $n) (i32.const 1))))
    (i32.store16 (local.get $end) (i32.const 32))
    (block $done
      (loop $scan
        ;; skip whitespace
        (block $found
          (loop $skip
            (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $t (i32.load (i32.shl (i32.load16_u (local.get $p)) (i32.const 2))))
            (br_if $found (i32.ne (local.get $t) (i32.const -1)))
            (local.set $p (i32.add (local.get $p) (i32.const 2)))
            (br $skip)))
        ;; hash one word
        (local.set $a (local.get $seedA))
        (local.set $b (local.get $seedB))
        (local.set $start (local.get $p))
        (local.set $cx (i32.const 0))
        (block $wend
          (loop $outer
            ;; $t is not whitespace here
            (if (i32.lt_s (local.get $t) (i32.const 0))
              (then
                (if (i32.ge_s (local.get $t) (i32.const -3))
                  (then (local.set $cx (i32.const 1)) (br $wend)))
                (local.set $t (i32.and (local.get $t) (i32.const 0xffff)))))
            (loop $word
              (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $t)) (i32.const 0x01000193)))
              (local.set $b (i32.mul (i32.add (i32.rotl (local.get $b) (i32.const 7)) (local.get $t))
                                     (i32.const 0x5bd1e995)))
              (local.set $p (i32.add (local.get $p) (i32.const 2)))
              (local.set $t (i32.load (i32.shl (i32.load16_u (local.get $p)) (i32.const 2))))
              (br_if $word (i32.ge_s (local.get $t) (i32.const 0))))
            (br_if $wend (i32.eq (local.get $t) (i32.const -1)))
            (br $outer)))
        (if (local.get $cx)
          (then
            ;; a unit the table cannot lower-case: find the end of the word and list it
            (loop $rest
              (local.set $feff (i32.or (local.get $feff) (i32.eq (local.get $t) (i32.const -2))))
              (local.set $p (i32.add (local.get $p) (i32.const 2)))
              (local.set $t (i32.load (i32.shl (i32.load16_u (local.get $p)) (i32.const 2))))
              (br_if $rest (i32.ne (local.get $t) (i32.const -1))))
            (i32.store (local.get $na) (local.get $w))
            (i32.store offset=4 (local.get $na)
              (i32.shr_u (i32.sub (local.get $start) (local.get $text)) (i32.const 1)))
            (i32.store offset=8 (local.get $na)
              (i32.shr_u (i32.sub (local.get $p) (local.get $text)) (i32.const 1)))
            (local.set $na (i32.add (local.get $na) (i32.const 12)))
            (local.set $nac (i32.add (local.get $nac) (i32.const 1)))))
        (local.set $len (i32.shr_u (i32.sub (local.get $p) (local.get $start)) (i32.const 1)))
        (i32.store (i32.add (local.get $wa) (i32.shl (local.get $w) (i32.const 2)))
          (call $fmix32 (i32.xor (local.get $a) (local.get $len))))
        (i32.store (i32.add (local.get $wb) (i32.shl (local.get $w) (i32.const 2)))
          (call $fmix32 (i32.add (local.get $b) (i32.mul (local.get $len) (i32.const 0x27d4eb2f)))))
        (local.set $w (i32.add (local.get $w) (i32.const 1)))
        ;; $p is at the whitespace (or the sentinel) that ended the word: step over it
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (br $scan)))
    (global.set $naCount (local.get $nac))
    (global.set $sawFeff (local.get $feff))
    (local.get $w))

  ;; Rolling hash of every $size consecutive word hashes (bases 0x01000193 and 0x85ebca6b, $pas and
  ;; $pbs their $size-th powers); each shingle goes to bin floor(x * k / 2^32) of $out (k u32 values,
  ;; set to 0xffffffff first) keeping the minimum, and marks $occ[bin] (k bytes, zeroed first).
  ;; Returns the number of shingles.
  (func (export "shingles")
    (param $wa i32) (param $wb i32) (param $words i32) (param $size i32) (param $out i32) (param $occ i32)
    (param $k i32) (param $shift i32) (param $seedX i32) (param $seedY i32) (param $pas i32) (param $pbs i32) (result i32)
    (local $w i32) (local $rx i32) (local $ry i32) (local $x i32) (local $y i32) (local $bin i32)
    (local $p i32) (local $q i32) (local $cnt i32) (local $slot i32)
    (memory.fill (local.get $out) (i32.const 0xff) (i32.shl (local.get $k) (i32.const 2)))
    (memory.fill (local.get $occ) (i32.const 0) (local.get $k))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $w) (local.get $words)))
        (local.set $p (i32.shl (local.get $w) (i32.const 2)))
        (local.set $rx (i32.add (i32.mul (local.get $rx) (i32.const 0x01000193))
                                (i32.load (i32.add (local.get $wa) (local.get $p)))))
        (local.set $ry (i32.add (i32.mul (local.get $ry) (i32.const 0x85ebca6b))
                                (i32.load (i32.add (local.get $wb) (local.get $p)))))
        (if (i32.ge_u (local.get $w) (local.get $size))
          (then
            (local.set $q (i32.shl (i32.sub (local.get $w) (local.get $size)) (i32.const 2)))
            (local.set $rx (i32.sub (local.get $rx)
              (i32.mul (i32.load (i32.add (local.get $wa) (local.get $q))) (local.get $pas))))
            (local.set $ry (i32.sub (local.get $ry)
              (i32.mul (i32.load (i32.add (local.get $wb) (local.get $q))) (local.get $pbs))))))
        (local.set $w (i32.add (local.get $w) (i32.const 1)))
        (if (i32.ge_u (local.get $w) (local.get $size))
          (then
            (local.set $x (call $fmix32 (i32.xor (local.get $rx) (local.get $seedX))))
            (local.set $y (call $fmix32 (i32.xor (local.get $ry) (local.get $seedY))))
            ;; floor(x * k / 2^32): a shift when k is a power of two above 1 ($shift = 32 - log2 k)
            (local.set $bin
              (if (result i32) (local.get $shift)
                (then (i32.shr_u (local.get $x) (local.get $shift)))
                (else (i32.wrap_i64 (i64.shr_u
                  (i64.mul (i64.extend_i32_u (local.get $x)) (i64.extend_i32_u (local.get $k))) (i64.const 32))))))
            (i32.store8 (i32.add (local.get $occ) (local.get $bin)) (i32.const 1))
            (local.set $slot (i32.add (local.get $out) (i32.shl (local.get $bin) (i32.const 2))))
            ;; the minimum without a branch (an update is rare and comes at random)
            (local.set $p (i32.load (local.get $slot)))
            (i32.store (local.get $slot)
              (select (local.get $y) (local.get $p) (i32.lt_u (local.get $y) (local.get $p))))
            (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
        (br $next)))
    (local.get $cnt))
)
