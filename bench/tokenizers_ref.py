#!/usr/bin/env python3
"""Reference tokenization with Hugging Face's Rust-backed `tokenizers`, for `npm run bench -- mine`.

Reads texts (one JSON string per line), encodes them single-threaded with the same tokenizer.json
the TypeScript encoder loads, and writes a JSON result: throughput per mode, peak RSS, the sha256
of all ids (each text's ids as little-endian uint32, concatenated in order) and a short per-text
digest so the caller can point at the first differing text.

Exit codes: 0 ok, 3 `tokenizers` is not installed (message on stderr), 2 bad arguments.
"""
import argparse
import hashlib
import json
import os
import resource
import struct
import sys
import time

# Single thread, set before tokenizers (and its Rayon pool) is imported.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

try:
    import tokenizers
    from tokenizers import Tokenizer
except ImportError:
    print(
        "tokenizers_ref.py: the Python package `tokenizers` is not installed.\n"
        "Install it with:  pip install tokenizers   (or: python3 -m pip install tokenizers)",
        file=sys.stderr,
    )
    sys.exit(3)


def ids_bytes(ids):
    return struct.pack("<%dI" % len(ids), *ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True, help="path of tokenizer.json")
    ap.add_argument("--texts", required=True, help="JSONL file, one JSON string per line")
    ap.add_argument("--out", required=True, help="where to write the JSON result")
    ap.add_argument("--modes", default="batch,loop", help="comma list of: batch (encode_batch), loop (encode per text)")
    ap.add_argument("--dump-ids", action="store_true", help="also write every text's ids (small inputs only)")
    args = ap.parse_args()

    tok = Tokenizer.from_file(args.tokenizer)
    with open(args.texts, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]

    result = {"version": tokenizers.__version__, "texts": len(texts), "modes": {}}
    h = hashlib.sha256()
    per_text = []
    counts = []
    dumped = []
    chunk = 64  # bounded memory; still one thread
    for k, mode in enumerate(m for m in args.modes.split(",") if m):
        if mode not in ("batch", "loop"):
            print(f"unknown mode {mode}", file=sys.stderr)
            sys.exit(2)
        secs = 0.0
        n = 0
        for i in range(0, len(texts), chunk):
            part = texts[i : i + chunk]
            t0 = time.perf_counter()
            if mode == "batch":
                ids = [e.ids for e in tok.encode_batch(part, add_special_tokens=False)]
            else:
                ids = [tok.encode(t, add_special_tokens=False).ids for t in part]
            secs += time.perf_counter() - t0
            n += sum(len(x) for x in ids)
            if k == 0:  # digests from the first mode, outside the timed region
                for x in ids:
                    b = ids_bytes(x)
                    h.update(b)
                    per_text.append(hashlib.sha256(b).hexdigest()[:16])
                    counts.append(len(x))
                    if args.dump_ids:
                        dumped.append(list(x))
        result["modes"][mode] = {"seconds": secs, "tokens": n, "tokens_per_s": n / secs if secs > 0 else 0.0}

    result["sha256"] = h.hexdigest()
    result["per_text"] = per_text
    result["counts"] = counts
    if args.dump_ids:
        result["ids"] = dumped
    # ru_maxrss is KiB on Linux
    result["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
