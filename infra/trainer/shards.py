"""Read (and, for fixtures and the GPU check, write) the mix stage's training shards.

The format is docs/shards.md: per training stage a directory with manifest.json and numbered
shards, each a Megatron MMIDIDX pair for tokens (int32), loss mask (uint8) and document bounds
(int32), plus a JSONL copy of the documents. Everything is read through numpy memmaps, so a
stage of any size opens in constant memory and time.

Only numpy and the standard library are imported here: the writer runs without torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
DTYPE_CODES = {4: np.int32, 1: np.uint8}
CODE_OF = {np.dtype(np.int32): 4, np.dtype(np.uint8): 1}
EOS_ID = 151643
QWEN_VOCAB = 151936
SHARD_FILES = ("bin", "idx", "mask.bin", "mask.idx", "bounds.bin", "bounds.idx", "jsonl")


class ShardError(Exception):
    """A shard directory, manifest or file that does not follow docs/shards.md. The message names
    the file and what is wrong with it."""


# ----------------------------------------------------------------------------- MMIDIDX


@dataclass
class IndexedArray:
    """One .bin/.idx pair: N sequences of a single dtype."""

    path_bin: Path
    path_idx: Path
    dtype: np.dtype
    lengths: np.ndarray  # int32[N]
    pointers: np.ndarray  # int64[N] byte offsets
    data: np.ndarray  # memmap over the whole .bin

    def __len__(self) -> int:
        return len(self.lengths)

    def get(self, i: int) -> np.ndarray:
        start = int(self.pointers[i]) // self.dtype.itemsize
        return self.data[start : start + int(self.lengths[i])]


def read_idx(path_idx: Path, path_bin: Path, expect_dtype: np.dtype) -> IndexedArray:
    try:
        raw = path_idx.read_bytes()
    except FileNotFoundError:
        raise ShardError(f"{path_idx}: missing") from None
    if raw[:9] != MAGIC:
        raise ShardError(f"{path_idx}: not an MMIDIDX index (magic {raw[:9]!r})")
    if len(raw) < 34:
        raise ShardError(f"{path_idx}: truncated header ({len(raw)} bytes)")
    (version,) = struct.unpack_from("<Q", raw, 9)
    if version != 1:
        raise ShardError(f"{path_idx}: index version {version}, expected 1")
    code = raw[17]
    if code not in DTYPE_CODES:
        raise ShardError(f"{path_idx}: dtype code {code}, expected 4 (int32) or 1 (uint8)")
    dtype = np.dtype(DTYPE_CODES[code])
    if dtype != np.dtype(expect_dtype):
        raise ShardError(f"{path_idx}: dtype {dtype}, expected {np.dtype(expect_dtype)}")
    n, ndocs = struct.unpack_from("<QQ", raw, 18)
    off = 34
    need = off + 4 * n + 8 * n + 8 * ndocs
    if len(raw) < need:
        raise ShardError(f"{path_idx}: truncated ({len(raw)} bytes, {need} needed for {n} sequences)")
    lengths = np.frombuffer(raw, dtype="<i4", count=n, offset=off)
    pointers = np.frombuffer(raw, dtype="<i8", count=n, offset=off + 4 * n)
    if not path_bin.exists():
        raise ShardError(f"{path_bin}: missing")
    size = path_bin.stat().st_size
    total = int(lengths.astype(np.int64).sum()) * dtype.itemsize
    if size != total:
        raise ShardError(f"{path_bin}: {size} bytes, but {path_idx} describes {total}")
    if n and (pointers[0] != 0 or np.any(np.diff(pointers) != lengths[:-1].astype(np.int64) * dtype.itemsize)):
        raise ShardError(f"{path_idx}: pointers are not contiguous offsets of the lengths")
    data = np.memmap(path_bin, dtype=dtype.newbyteorder("<"), mode="r") if size else np.zeros(0, dtype)
    return IndexedArray(path_bin, path_idx, dtype, lengths, pointers, data)


def write_indexed(prefix: Path, arrays: Sequence[np.ndarray], dtype) -> tuple[Path, Path]:
    """Write prefix.bin and prefix.idx (MMIDIDX v1) for a list of 1-D arrays."""
    dtype = np.dtype(dtype)
    path_bin, path_idx = Path(f"{prefix}.bin"), Path(f"{prefix}.idx")
    lengths = np.array([len(a) for a in arrays], dtype="<i4")
    pointers = np.zeros(len(arrays), dtype="<i8")
    if len(arrays) > 1:
        pointers[1:] = np.cumsum(lengths[:-1].astype(np.int64)) * dtype.itemsize
    with open(path_bin, "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype=dtype.newbyteorder("<")).tobytes())
    n = len(arrays)
    with open(path_idx, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", 1))
        f.write(bytes([CODE_OF[dtype]]))
        f.write(struct.pack("<QQ", n, n + 1))
        f.write(lengths.tobytes())
        f.write(pointers.tobytes())
        f.write(np.arange(n + 1, dtype="<i8").tobytes())
    return path_bin, path_idx


# ----------------------------------------------------------------------------- reader


@dataclass
class Shard:
    name: str
    tokens: IndexedArray
    mask: IndexedArray
    bounds: IndexedArray | None


class StageData:
    """All sequences of one training stage, addressed by a global index 0..len-1 (shard order)."""

    def __init__(self, directory: str | os.PathLike, check_bounds: bool = True):
        self.dir = Path(directory)
        mpath = self.dir / "manifest.json"
        if not self.dir.is_dir():
            raise ShardError(f"{self.dir}: not a directory (--data must be a stage directory holding manifest.json)")
        try:
            self.manifest = json.loads(mpath.read_text())
        except FileNotFoundError:
            raise ShardError(f"{mpath}: missing (--data must be a stage directory holding manifest.json)") from None
        except json.JSONDecodeError as e:
            raise ShardError(f"{mpath}: invalid JSON ({e})") from None
        m = self.manifest
        if m.get("schema_version") != 1:
            raise ShardError(f"{mpath}: schema_version {m.get('schema_version')!r}, expected 1")
        for key in ("seq_len", "pack", "shards", "sequences"):
            if key not in m:
                raise ShardError(f"{mpath}: no '{key}' field")
        self.seq_len = int(m["seq_len"])
        self.pack = bool(m["pack"])
        self.eos_id = int((m.get("tokenizer") or {}).get("eos_id", EOS_ID))
        self.vocab_size = (m.get("tokenizer") or {}).get("vocab_size")
        self.shards: list[Shard] = []
        counts = []
        for s in m["shards"]:
            name = s.get("name")
            if not isinstance(name, str) or "/" in name:
                raise ShardError(f"{mpath}: shard entry without a plain 'name': {s!r}")
            p = self.dir / name
            files = s.get("files") or {}
            for fkey in ("bin", "idx", "mask.bin", "mask.idx"):
                f = Path(f"{p}.{fkey}")
                if not f.exists():
                    raise ShardError(f"{f}: missing (listed as shard {name} in {mpath})")
                want = (files.get(fkey) or {}).get("bytes")
                if want is not None and f.stat().st_size != int(want):
                    raise ShardError(f"{f}: {f.stat().st_size} bytes, manifest says {want}")
            tok = read_idx(Path(f"{p}.idx"), Path(f"{p}.bin"), np.int32)
            mask = read_idx(Path(f"{p}.mask.idx"), Path(f"{p}.mask.bin"), np.uint8)
            if len(tok) != len(mask) or np.any(tok.lengths != mask.lengths):
                raise ShardError(f"{p}.mask.idx: sequence lengths differ from {p}.idx")
            bounds = None
            if Path(f"{p}.bounds.idx").exists():
                bounds = read_idx(Path(f"{p}.bounds.idx"), Path(f"{p}.bounds.bin"), np.int32)
                if len(bounds) != len(tok):
                    raise ShardError(f"{p}.bounds.idx: {len(bounds)} sequences, {p}.idx has {len(tok)}")
            if "sequences" in s and int(s["sequences"]) != len(tok):
                raise ShardError(f"{p}.idx: {len(tok)} sequences, manifest says {s['sequences']}")
            if self.pack and len(tok) and np.any(tok.lengths != self.seq_len):
                bad = int(np.nonzero(tok.lengths != self.seq_len)[0][0])
                raise ShardError(
                    f"{p}.idx: packed stage but sequence {bad} has {tok.lengths[bad]} tokens, seq_len is {self.seq_len}"
                )
            self.shards.append(Shard(name, tok, mask, bounds))
            counts.append(len(tok))
        self.offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        if int(self.offsets[-1]) != int(m["sequences"]):
            raise ShardError(f"{mpath}: 'sequences' is {m['sequences']} but the shards hold {int(self.offsets[-1])}")
        if len(self) == 0:
            raise ShardError(f"{mpath}: the stage has no sequences")

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, i: int) -> tuple[Shard, int]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return self.shards[k], i - int(self.offsets[k])

    def sequence(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(tokens int32[L], mask uint8[L]) of global sequence i (copies, safe to keep)."""
        shard, j = self.locate(i)
        return np.array(shard.tokens.get(j), dtype=np.int64), np.array(shard.mask.get(j), dtype=np.uint8)

    def describe(self, i: int) -> str:
        shard, j = self.locate(i)
        return f"{shard.tokens.path_bin} sequence {j}"

    def lengths(self) -> np.ndarray:
        return np.concatenate([s.tokens.lengths for s in self.shards]).astype(np.int64)


# ----------------------------------------------------------------------------- writer


def pack_documents(
    docs: Iterable[tuple[Sequence[int], Sequence[int]]], seq_len: int, pack: bool = True, eos_id: int = EOS_ID,
    eos_mask: int = 1,
):
    """Turn documents (tokens, mask) into sequences as the mix stage does (docs/shards.md § Packing).

    Returns (sequences, masks, bounds, stats): lists of int32/uint8/int32 arrays and a dict of counts.
    """
    seqs, masks, bounds = [], [], []
    stats = {"content_tokens": 0, "eos_tokens": 0, "pad_tokens": 0, "documents": 0}
    cur_t: list[int] = []
    cur_m: list[int] = []
    cur_b: list[int] = []
    for tokens, mask in docs:
        tokens, mask = list(tokens), list(mask)
        if len(tokens) != len(mask):
            raise ValueError("document tokens and mask differ in length")
        stats["documents"] += 1
        stats["content_tokens"] += len(tokens)
        stats["eos_tokens"] += 1
        t = tokens + [eos_id]
        mk = mask + [eos_mask]
        if not pack:
            seqs.append(np.array(t, np.int32))
            masks.append(np.array(mk, np.uint8))
            bounds.append(np.array([0], np.int32))
            continue
        pos = 0
        while pos < len(t):
            if not cur_b or cur_b[-1] != len(cur_t):
                cur_b.append(len(cur_t))
            take = min(seq_len - len(cur_t), len(t) - pos)
            cur_t += t[pos : pos + take]
            cur_m += mk[pos : pos + take]
            pos += take
            if len(cur_t) == seq_len:
                seqs.append(np.array(cur_t, np.int32))
                masks.append(np.array(cur_m, np.uint8))
                bounds.append(np.array(cur_b, np.int32))
                cur_t, cur_m, cur_b = [], [], []
    if pack and cur_t:
        pad = seq_len - len(cur_t)
        stats["pad_tokens"] += pad
        seqs.append(np.array(cur_t + [eos_id] * pad, np.int32))
        masks.append(np.array(cur_m + [0] * pad, np.uint8))
        bounds.append(np.array(cur_b, np.int32))
    return seqs, masks, bounds, stats


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_stage(
    directory: str | os.PathLike,
    sequences: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    bounds: Sequence[np.ndarray] | None = None,
    *,
    stage: str = "fixture",
    seq_len: int | None = None,
    pack: bool = True,
    loss_mask: str = "none",
    sequences_per_shard: int = 64,
    vocab_size: int = 151665,
    stats: dict | None = None,
    source: str = "fixture",
) -> dict:
    """Write sequences as a stage directory (shards + manifest.json) per docs/shards.md."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if bounds is None:
        bounds = [np.array([0], np.int32) for _ in sequences]
    if seq_len is None:
        seq_len = max(len(s) for s in sequences)
    shards = []
    for k, start in enumerate(range(0, len(sequences), sequences_per_shard)):
        name = f"shard-{k:05d}"
        sl = slice(start, start + sequences_per_shard)
        p = out / name
        write_indexed(p, list(sequences[sl]), np.int32)
        write_indexed(Path(f"{p}.mask"), list(masks[sl]), np.uint8)
        write_indexed(Path(f"{p}.bounds"), list(bounds[sl]), np.int32)
        with open(f"{p}.jsonl", "w") as f:
            for j, s in enumerate(sequences[sl]):
                f.write(json.dumps({"text": " ".join(map(str, s.tolist())), "source": source, "id": f"{name}-{j}"}) + "\n")
        files = {}
        for fk in SHARD_FILES:
            fp = Path(f"{p}.{fk}")
            files[fk] = {"uri": fp.name, "sha256": _sha256(fp), "bytes": fp.stat().st_size}
        shards.append({
            "name": name,
            "sequences": len(sequences[sl]),
            "tokens": int(sum(len(s) for s in sequences[sl])),
            "loss_tokens": int(sum(int(m.sum()) for m in masks[sl])),
            "files": files,
        })
    tokens = int(sum(len(s) for s in sequences))
    st = dict(stats or {})
    manifest = {
        "schema_version": 1,
        "stage": stage,
        "tokenizer": {"name": "qwen2.5", "fingerprint": "fixture", "eos_id": EOS_ID, "vocab_size": vocab_size},
        "seq_len": seq_len,
        "pack": pack,
        "loss_mask": loss_mask,
        "sequences": len(sequences),
        "tokens": tokens,
        "content_tokens": st.get("content_tokens", tokens),
        "eos_tokens": st.get("eos_tokens", 0),
        "pad_tokens": st.get("pad_tokens", 0),
        "loss_tokens": int(sum(int(m.sum()) for m in masks)),
        "documents": st.get("documents", len(sequences)),
        "sources": {source: {"documents_in": st.get("documents", len(sequences)), "tokens_in": st.get("content_tokens", tokens),
                             "removed": {}, "documents_out": st.get("documents", len(sequences)),
                             "tokens_out": st.get("content_tokens", tokens), "repetition": 1.0, "share": 1.0}},
        "shards": shards,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def make_fixture(
    directory: str | os.PathLike, *, n_docs: int = 96, seq_len: int = 64, vocab: int = 512, seed: int = 0,
    kind: str = "pattern", pack: bool = True, loss_mask: str = "none", sequences_per_shard: int = 16,
) -> dict:
    """Learnable or random fixture shards.

    kind="pattern": each document repeats one of 8 fixed random motifs (period 3..8, ids < vocab-1)
    from a random phase, so the next token is (almost) a function of the current one: a tiny model
    learns it within a few dozen steps and the loss visibly drops. kind="random": uniform ids
    (throughput checks). loss_mask="sft": the first half of each document is masked (0), like a
    prompt, the second half counts. The end-of-document id is vocab-1 when vocab < 151643, else
    151643, so every id stays below `vocab` (a reduced-vocab model can read it).
    """
    rng = np.random.default_rng(seed)
    eos = EOS_ID if vocab > EOS_ID else vocab - 1
    docs = []
    hi = min(vocab - 1, EOS_ID)
    motifs = [rng.choice(hi, size=int(rng.integers(3, 9)), replace=False) for _ in range(8)]
    for _ in range(n_docs):
        length = int(rng.integers(seq_len // 2, seq_len * 2))
        if kind == "pattern":
            motif = motifs[int(rng.integers(len(motifs)))]
            toks = np.roll(np.resize(motif, length + len(motif)), -int(rng.integers(len(motif))))[:length]
        else:
            toks = rng.integers(0, hi, size=length)
        mask = np.ones(length, np.uint8)
        if loss_mask == "sft":
            mask[: length // 2] = 0
        docs.append((toks.tolist(), mask.tolist()))
    seqs, masks, bounds, stats = pack_documents(docs, seq_len, pack=pack, eos_id=eos, eos_mask=0 if loss_mask == "sft" else 1)
    return write_stage(directory, seqs, masks, bounds, seq_len=seq_len, pack=pack, loss_mask=loss_mask,
                       sequences_per_shard=sequences_per_shard, stats=stats, vocab_size=vocab)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Write fixture shards (docs/shards.md) for tests and the GPU check.")
    ap.add_argument("out")
    ap.add_argument("--docs", type=int, default=96)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kind", choices=["pattern", "random"], default="pattern")
    ap.add_argument("--no-pack", action="store_true")
    ap.add_argument("--loss-mask", choices=["none", "sft"], default="none")
    ap.add_argument("--sequences-per-shard", type=int, default=16)
    a = ap.parse_args()
    m = make_fixture(a.out, n_docs=a.docs, seq_len=a.seq_len, vocab=a.vocab, seed=a.seed, kind=a.kind,
                     pack=not a.no_pack, loss_mask=a.loss_mask, sequences_per_shard=a.sequences_per_shard)
    print(json.dumps({"dir": a.out, "sequences": m["sequences"], "tokens": m["tokens"], "shards": len(m["shards"])}))
