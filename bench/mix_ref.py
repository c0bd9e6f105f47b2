#!/usr/bin/env python3
"""Reference MinHash near-dedup with PyPI `rensa` (Rust) and `datasketch`, for `npm run bench -- mix`.

Reads documents (one JSON string per line), builds the same word shingles as
activities/mix/minhash.ts (lower-case, words = maximal runs of characters outside JavaScript's `\\s`,
`size` words joined by one space, a shorter non-empty text is one shingle), and for each selected
implementation runs the same dedup as the TypeScript side: per document, a MinHash of its shingles,
an LSH query for earlier documents sharing a band, the candidates confirmed by estimated Jaccard
>= threshold, then an insert. Writes a JSON result: seconds (wall and CPU) per step, the confirmed
pairs, the estimated Jaccard of the given eval pairs, the sha256 of all shingles (so the caller can
check both sides hashed the same sets) and peak RSS.

Implementations:
  rensa       RMinHash(num_perm, seed).update(shingles) + RMinHashLSH(threshold, num_perm, bands)
  rensa-bulk  RMinHash.digest_matrix_from_token_sets + RMinHashLSH.insert_matrix_and_query_duplicate_flags
              (rensa's fastest batch path; it yields duplicate flags, not pairs)
  datasketch  MinHash(num_perm, seed).update_batch(utf-8 shingles) + MinHashLSH(params=(bands, rows))

Shingling is done once in Python, timed separately, and is NOT included in the implementations'
times (that favours the references: the TypeScript side's time includes its shingling). rensa and
rensa-bulk are timed `--repeat` times and the fastest run is kept (datasketch once: it is slow).

Exit codes: 0 ok, 2 bad arguments, 3 a package is missing (message on stderr).
"""
import argparse
import hashlib
import json
import os
import re
import resource
import sys
import time

# One thread everywhere (rensa's batch paths use rayon / worker threads).
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# JavaScript's \s (ECMAScript WhiteSpace + LineTerminator), not Python's str.split() set.
JS_WS = re.compile("[\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")


def shingles(text, size):
    words = [w for w in JS_WS.split(text.lower()) if w]
    if not words:
        return []
    if len(words) < size:
        return [" ".join(words)]
    return [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]


class Clock:
    def __init__(self):
        self.w = time.perf_counter()
        self.c = time.process_time()

    def done(self):
        return {"wall_s": time.perf_counter() - self.w, "cpu_s": time.process_time() - self.c}


def run_rensa(sets, a):
    import rensa

    t = Clock()
    lsh = rensa.RMinHashLSH(a.threshold, a.num_perm, a.bands)
    mhs = []
    pairs = []
    for i, sh in enumerate(sets):
        m = rensa.RMinHash(a.num_perm, a.seed)
        m.update(sh)
        for c in lsh.query(m):
            if m.jaccard(mhs[c]) >= a.threshold:
                pairs.append((c, i) if c < i else (i, c))
        lsh.insert(i, m)
        mhs.append(m)
    timing = t.done()
    return timing, pairs, lambda i, j: mhs[i].jaccard(mhs[j])


def run_rensa_bulk(sets, a):
    import rensa

    t = Clock()
    matrix = rensa.RMinHash.digest_matrix_from_token_sets(sets, a.num_perm, a.seed)
    sketch = t.done()
    lsh = rensa.RMinHashLSH(a.threshold, a.num_perm, a.bands)
    flags = lsh.insert_matrix_and_query_duplicate_flags(matrix)
    timing = t.done()
    timing["sketch_wall_s"] = sketch["wall_s"]
    return timing, [i for i, f in enumerate(flags) if f]


def run_datasketch(sets, a):
    from datasketch import MinHash, MinHashLSH

    t = Clock()
    lsh = MinHashLSH(threshold=a.threshold, num_perm=a.num_perm, params=(a.bands, a.rows))
    mhs = []
    pairs = []
    for i, sh in enumerate(sets):
        m = MinHash(num_perm=a.num_perm, seed=a.seed)
        m.update_batch([s.encode("utf-8") for s in sh])
        for c in lsh.query(m):
            if m.jaccard(mhs[c]) >= a.threshold:
                pairs.append((c, i) if c < i else (i, c))
        lsh.insert(i, m, check_duplication=False)
        mhs.append(m)
    timing = t.done()
    return timing, pairs, lambda i, j: mhs[i].jaccard(mhs[j])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True, help="JSONL, one JSON string per line")
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval-pairs", help="JSON [[i, j], ...]: report each implementation's estimate for these")
    ap.add_argument("--impls", default="rensa,rensa-bulk,datasketch")
    ap.add_argument("--shingle", type=int, default=5)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--bands", type=int, default=16)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of rensa and rensa-bulk (best kept)")
    a = ap.parse_args()
    if a.bands * a.rows != a.num_perm:
        print("bands * rows must equal num_perm", file=sys.stderr)
        sys.exit(2)
    impls = [x for x in a.impls.split(",") if x]
    versions = {}
    for name in impls:
        mod = {"rensa": "rensa", "rensa-bulk": "rensa", "datasketch": "datasketch"}.get(name)
        if mod is None:
            print(f"unknown implementation {name}", file=sys.stderr)
            sys.exit(2)
        try:
            __import__(mod)
        except ImportError:
            print(f"mix_ref.py: the Python package `{mod}` is not installed (pip install {mod})", file=sys.stderr)
            sys.exit(3)
        from importlib.metadata import version

        versions[name] = version(mod)

    with open(a.docs, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    eval_pairs = []
    if a.eval_pairs:
        with open(a.eval_pairs, encoding="utf-8") as f:
            eval_pairs = json.load(f)

    t = Clock()
    sets = [shingles(d, a.shingle) for d in docs]
    shingle_time = t.done()
    h = hashlib.sha256()
    for sh in sets:
        h.update("\n".join(sh).encode("utf-8"))
        h.update(b"\0")
    result = {
        "docs": len(docs),
        "shingles": sum(len(s) for s in sets),
        "shingle_sha256": h.hexdigest(),
        "shingle_time": shingle_time,
        "versions": versions,
        "impls": {},
    }
    for name in impls:
        runs = max(1, a.repeat) if name.startswith("rensa") else 1
        if name == "rensa-bulk":
            best = min((run_rensa_bulk(sets, a) for _ in range(runs)), key=lambda r: r[0]["wall_s"])
            timing, flagged = best
            result["impls"][name] = {"timing": timing, "flagged": flagged, "runs": runs}
            continue
        fn = run_rensa if name == "rensa" else run_datasketch
        timing, pairs, est = min((fn(sets, a) for _ in range(runs)), key=lambda r: r[0]["wall_s"])
        result["impls"][name] = {
            "timing": timing,
            "pairs": pairs,
            "eval_estimates": [est(i, j) for i, j in eval_pairs],
            "runs": runs,
        }
        print(f"mix_ref.py: {name} {timing['wall_s']:.2f} s, {len(pairs)} pairs", file=sys.stderr)
    result["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
