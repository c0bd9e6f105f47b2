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


;; The code unit table: 65536 i32 at address 0, per UTF-16 code unit: -1 whitespace, -2 U+FEFF,
  ;; -3 a unit whose lower case needs its context (a surrogate, U+03A3 Σ, a unit that lower-cases to
  ;; more than one), the lower-case unit for other ASCII (≥ 0), and 0x80000000 | the lower-case unit
  ;; for other non-ASCII units (< -3). Only blocks with a non-ASCII unit read it.

  ;; Hashes the words of the n code units at $text (16-aligned, with room for 16 more units) into
  ;; $wa[w], $wb[w], in two passes:
  ;; 1. per block of 8 units (SIMD): lower-case in place and put a whitespace bit per unit into the
  ;;    bitmap at $bm (one byte per block; ASCII blocks without the table, others unit by unit);
  ;;    the positions of -3 units go to $sp. Two blocks per step; the text is padded with spaces to
  ;;    whole pairs of blocks plus one pair.
  ;; 2. per word (found with ctz on the bitmap): the word hash of minhash.ts `hashUnits`: four i32
  ;;    lanes, each taking 2 units of every 8-unit chunk (zeros past the end), lane = (lane ^ chunk)
  ;;    * K, lane ^= lane >> 15; then two linear combinations of the lanes, finalised with the length.
  ;; Words with a -3 unit are listed as (word, start, end) triples at $na (count in naCount) for
  ;; the caller to re-hash. Returns the word count; the hashes are meaningless when sawFeff is set.
  (func (export "words")
    (param $text i32) (param $n i32) (param $wa i32) (param $wb i32) (param $na i32)
    (param $bm i32) (param $sp i32)
    (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32) (result i32)
    (local $p i32) (local $q i32) (local $end i32) (local $t i32) (local $j i32)
    (local $blk i32) (local $blocks i32) (local $bits i32) (local $nsp i32)
    (local $w i32) (local $s i32) (local $e i32) (local $open i32) (local $feff i32) (local $spi i32)
    (local $nac i32) (local $rem i32) (local $len i32)
    (local $m i64) (local $x i64) (local $prev i64) (local $starts i64) (local $ends i64)
    (local $v v128) (local $c v128) (local $h v128) (local $a v128) (local $seeds v128)
    ;; pad to whole pairs of blocks plus one pair of spaces
    (local.set $end (i32.add (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16)) (i32.const 16)))
    (local.set $blocks (i32.shr_u (local.get $end) (i32.const 3)))
    (local.set $j (local.get $n))
    (block $padded
      (loop $pad
        (br_if $padded (i32.ge_u (local.get $j) (local.get $end)))
        (i32.store16 (i32.add (local.get $text) (i32.shl (local.get $j) (i32.const 1))) (i32.const 32))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $pad)))
    ;; pass 1
    (local.set $p (local.get $text))
    (block $pass1
      (loop $block
        (br_if $pass1 (i32.ge_u (local.get $blk) (local.get $blocks)))
        ;; two blocks (16 units) per step
        (local.set $v (v128.load (local.get $p)))
        (local.set $c (v128.load offset=16 (local.get $p)))
        (if (v128.any_true (i16x8.gt_u (v128.or (local.get $v) (local.get $c))
                                       (v128.const i16x8 127 127 127 127 127 127 127 127)))
          (then
            ;; a non-ASCII unit: all 16 through the table
            (local.set $bits (i32.const 0))
            (local.set $j (i32.const 0))
            (loop $unit
              (local.set $q (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 1))))
              (local.set $t (i32.load (i32.shl (i32.load16_u (local.get $q)) (i32.const 2))))
              (if (i32.lt_s (local.get $t) (i32.const -3))
                (then (i32.store16 (local.get $q) (local.get $t)))
                (else
                  (if (i32.ge_s (local.get $t) (i32.const 0))
                    (then (i32.store16 (local.get $q) (local.get $t)))
                    (else
                      (if (i32.eq (local.get $t) (i32.const -3))
                        (then
                          (i32.store (i32.add (local.get $sp) (i32.shl (local.get $nsp) (i32.const 2)))
                            (i32.add (i32.shl (local.get $blk) (i32.const 3)) (local.get $j)))
                          (local.set $nsp (i32.add (local.get $nsp) (i32.const 1))))
                        (else
                          ;; -1 whitespace, -2 U+FEFF (the caller declines the text)
                          (local.set $bits (i32.or (local.get $bits) (i32.shl (i32.const 1) (local.get $j))))
                          (if (i32.eq (local.get $t) (i32.const -2)) (then (local.set $feff (i32.const 1))))))))))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br_if $unit (i32.lt_u (local.get $j) (i32.const 16))))
            (i32.store16 (i32.add (local.get $bm) (local.get $blk)) (local.get $bits)))
          (else
            ;; ASCII: whitespace is 32 or 9..13; A..Z get + 32
            (i32.store16 (i32.add (local.get $bm) (local.get $blk))
              (i8x16.bitmask (i8x16.narrow_i16x8_s
                (v128.or
                  (i16x8.eq (local.get $v) (v128.const i16x8 32 32 32 32 32 32 32 32))
                  (i16x8.lt_u (i16x8.sub (local.get $v) (v128.const i16x8 9 9 9 9 9 9 9 9))
                              (v128.const i16x8 5 5 5 5 5 5 5 5)))
                (v128.or
                  (i16x8.eq (local.get $c) (v128.const i16x8 32 32 32 32 32 32 32 32))
                  (i16x8.lt_u (i16x8.sub (local.get $c) (v128.const i16x8 9 9 9 9 9 9 9 9))
                              (v128.const i16x8 5 5 5 5 5 5 5 5))))))
            (v128.store (local.get $p)
              (i16x8.add (local.get $v)
                (v128.and (v128.const i16x8 32 32 32 32 32 32 32 32)
                  (i16x8.lt_u (i16x8.sub (local.get $v) (v128.const i16x8 65 65 65 65 65 65 65 65))
                              (v128.const i16x8 26 26 26 26 26 26 26 26)))))
            (v128.store offset=16 (local.get $p)
              (i16x8.add (local.get $c)
                (v128.and (v128.const i16x8 32 32 32 32 32 32 32 32)
                  (i16x8.lt_u (i16x8.sub (local.get $c) (v128.const i16x8 65 65 65 65 65 65 65 65))
                              (v128.const i16x8 26 26 26 26 26 26 26 26)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (local.set $blk (i32.add (local.get $blk) (i32.const 2)))
        (br $block)))
    ;; past the last block, up to a whole 64-bit window and one more: all whitespace
    (memory.fill (i32.add (local.get $bm) (local.get $blocks)) (i32.const 0xff)
      (i32.sub (i32.and (i32.add (local.get $blocks) (i32.const 15)) (i32.const -8)) (local.get $blocks)))
    ;; pass 2: per 64-unit window, the words' starts (non-whitespace after whitespace) and ends
    ;; (whitespace after non-whitespace) as bit masks, walked with ctz; a word may run on into the
    ;; next windows ($open). One unpredictable branch per window, not two per word.
    (local.set $seeds (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
      (i32x4.splat (local.get $s0)) (local.get $s1)) (local.get $s2)) (local.get $s3)))
    (local.set $prev (i64.const 1))
    (local.set $p (i32.const 0))
    (block $done
      (loop $window
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (i64.load (i32.add (local.get $bm) (i32.shr_u (local.get $p) (i32.const 3)))))
        (local.set $x (i64.or (i64.shl (local.get $m) (i64.const 1)) (local.get $prev)))
        (local.set $starts (i64.and (i64.xor (local.get $m) (i64.const -1)) (local.get $x)))
        (local.set $ends (i64.and (local.get $m) (i64.xor (local.get $x) (i64.const -1))))
        (local.set $prev (i64.shr_u (local.get $m) (i64.const 63)))
        (block $next
          (loop $words
            ;; the word's start: carried over from an earlier window, or the next start bit
            (if (i32.eqz (local.get $open))
              (then
                (br_if $next (i64.eqz (local.get $starts)))
                (local.set $s (i32.add (local.get $p) (i32.wrap_i64 (i64.ctz (local.get $starts)))))
                (local.set $starts (i64.and (local.get $starts) (i64.sub (local.get $starts) (i64.const 1))))))
            ;; its end, or it runs on into the next window
            (local.set $open (i64.eqz (local.get $ends)))
            (br_if $next (local.get $open))
            (local.set $e (i32.add (local.get $p) (i32.wrap_i64 (i64.ctz (local.get $ends)))))
            (local.set $ends (i64.and (local.get $ends) (i64.sub (local.get $ends) (i64.const 1))))
            ;; hash the units [$s, $e) into $wa[$w], $wb[$w]
        (local.set $len (i32.sub (local.get $e) (local.get $s)))
        (local.set $q (i32.add (local.get $text) (i32.shl (local.get $s) (i32.const 1))))
        (local.set $rem (local.get $len))
        (local.set $v (local.get $seeds))
        (block $last
          (loop $chunk
            (br_if $last (i32.le_u (local.get $rem) (i32.const 8)))
            (local.set $v (i32x4.mul (v128.xor (local.get $v) (v128.load (local.get $q)))
                                     (v128.const i32x4 0xcc9e2d51 0x1b873593 0x85ebca6b 0xc2b2ae35)))
            (local.set $v (v128.xor (local.get $v) (i32x4.shr_u (local.get $v) (i32.const 15))))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (local.set $rem (i32.sub (local.get $rem) (i32.const 8)))
            (br $chunk)))
        ;; the last chunk: units past the word's end are zeros
        (local.set $v (i32x4.mul
          (v128.xor (local.get $v)
            (v128.and (v128.load (local.get $q))
              (i16x8.gt_u (i16x8.splat (local.get $rem)) (v128.const i16x8 0 1 2 3 4 5 6 7))))
          (v128.const i32x4 0xcc9e2d51 0x1b873593 0x85ebca6b 0xc2b2ae35)))
        (local.set $v (v128.xor (local.get $v) (i32x4.shr_u (local.get $v) (i32.const 15))))
        ;; lane 0: v0 + v1 M1 + v2 M2 + v3 M3, xor len; lane 2: v0 N0 + v1 N1 + v2 + v3 N3 + len C
        (local.set $h (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (local.tee $a (i32x4.mul (local.get $v) (v128.const i32x4 1 0x9e3779b1 0x85ebca77 0xc2b2ae3d)))
            (local.tee $h (i32x4.mul (local.get $v) (v128.const i32x4 0x27d4eb2f 0x165667b1 1 0xd3a2646d))))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $h))))
        (local.set $h (i32x4.add (local.get $h)
          (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $h) (local.get $h))))
        (local.set $v (i32x4.splat (local.get $len)))
        (local.set $h (i32x4.add
          (v128.xor (local.get $h) (v128.and (local.get $v) (v128.const i32x4 -1 0 0 0)))
          (i32x4.mul (local.get $v) (v128.const i32x4 0 0 0x7feb352d 0))))
        ;; murmur3's fmix32 on both lanes
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32x4.mul (local.get $h) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 13))))
        (local.set $h (i32x4.mul (local.get $h) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        (i32.store (i32.add (local.get $wa) (i32.shl (local.get $w) (i32.const 2))) (i32x4.extract_lane 0 (local.get $h)))
        (i32.store (i32.add (local.get $wb) (i32.shl (local.get $w) (i32.const 2))) (i32x4.extract_lane 2 (local.get $h)))
        (if (i32.lt_u (local.get $spi) (local.get $nsp))
          (then
            (if (i32.lt_u (i32.load (i32.add (local.get $sp) (i32.shl (local.get $spi) (i32.const 2)))) (local.get $e))
              (then
                (i32.store (local.get $na) (local.get $w))
                (i32.store offset=4 (local.get $na) (local.get $s))
                (i32.store offset=8 (local.get $na) (local.get $e))
                (local.set $na (i32.add (local.get $na) (i32.const 12)))
                (local.set $nac (i32.add (local.get $nac) (i32.const 1)))
                (block $past
                  (loop $skip
                    (local.set $spi (i32.add (local.get $spi) (i32.const 1)))
                    (br_if $past (i32.ge_u (local.get $spi) (local.get $nsp)))
                    (br_if $skip (i32.lt_u (i32.load (i32.add (local.get $sp) (i32.shl (local.get $spi) (i32.const 2))))
                                           (local.get $e)))))))))
            (local.set $w (i32.add (local.get $w) (i32.const 1)))
            (br $words)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $window)))
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
            ;; murmur3's fmix32 of both lanes, written out (a call per shingle costs more than the hash)
            (local.set $x (i32.xor (local.get $rx) (local.get $seedX)))
            (local.set $y (i32.xor (local.get $ry) (local.get $seedY)))
            (local.set $x (i32.mul (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 16))) (i32.const 0x85ebca6b)))
            (local.set $y (i32.mul (i32.xor (local.get $y) (i32.shr_u (local.get $y) (i32.const 16))) (i32.const 0x85ebca6b)))
            (local.set $x (i32.mul (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 13))) (i32.const 0xc2b2ae35)))
            (local.set $y (i32.mul (i32.xor (local.get $y) (i32.shr_u (local.get $y) (i32.const 13))) (i32.const 0xc2b2ae35)))
            (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 16))))
            (local.set $y (i32.xor (local.get $y) (i32.shr_u (local.get $y) (i32.const 16))))
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
