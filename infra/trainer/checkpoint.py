"""Atomic checkpoints: a directory per step, written under a temporary name, fsynced, renamed.

Layout (see README.md):

    <checkpoint-dir>/
      step-00000040/               one complete checkpoint
        config.json                Hugging Face config     } together a model directory that
        model.safetensors          weights (fp32 master)   } `--model` (and HF) can load
        optimizer.pt               torch optimizer state_dict (full, rank 0)
        rng-rank00000.pt ...       python / numpy / torch (/ cuda) RNG states, one per rank
        trainer_state.json         step, data position, schedule, hyperparameters
        COMPLETE                   marker, written last: {"step": 40, "files": {name: bytes}}
      .tmp-step-00000050-<pid>/    a save in progress (or one killed mid-way): ignored, swept

Only a directory named step-* holding a COMPLETE marker whose listed files all exist with the
recorded sizes counts as a checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

STEP_RE = re.compile(r"^step-(\d{8})$")
MARKER = "COMPLETE"


class CheckpointError(Exception):
    pass


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    for p in sorted(path.iterdir()):
        if p.is_file():
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
    fsync_dir(path)


def tmp_dir_for(root: Path, step: int, token: str) -> Path:
    return root / f".tmp-{step_dir_name(step)}-{token}"


def finalize(root: Path, tmp: Path, step: int, extra: dict | None = None) -> Path:
    """Write the marker into tmp, fsync everything, rename tmp to step-N, fsync the parent."""
    files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
    marker = {"step": step, "files": files, **(extra or {})}
    fsync_tree(tmp)  # data first, so the marker never precedes the bytes it vouches for
    with open(tmp / MARKER, "w") as f:
        json.dump(marker, f)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(tmp)
    final = root / step_dir_name(step)
    if final.exists():  # a re-save of the same step (e.g. stop right after a periodic save)
        shutil.rmtree(final)
    os.rename(tmp, final)
    fsync_dir(root)
    return final


def is_complete(d: Path) -> bool:
    m = d / MARKER
    if not m.is_file():
        return False
    try:
        marker = json.loads(m.read_text())
        for name, size in marker["files"].items():
            if (d / name).stat().st_size != size:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def complete_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """(step, dir) of every complete checkpoint, oldest first."""
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        mm = STEP_RE.match(d.name)
        if mm and d.is_dir() and is_complete(d):
            out.append((int(mm.group(1)), d))
    return sorted(out)


def latest(root: Path) -> Path | None:
    c = complete_checkpoints(root)
    return c[-1][1] if c else None


def prune(root: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete checkpoints, incomplete step dirs older than the
    newest complete one, and leftover temporary dirs. Returns what was removed."""
    removed = []
    c = complete_checkpoints(root)
    if keep > 0:
        for _, d in c[:-keep]:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    newest = c[-1][0] if c else -1
    for d in root.iterdir():
        mm = STEP_RE.match(d.name)
        if mm and int(mm.group(1)) < newest and not is_complete(d):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def sweep_tmp(root: Path) -> list[Path]:
    """Remove .tmp-* dirs left by a save that was killed (call once at start, rank 0 only)."""
    removed = []
    if root.is_dir():
        for d in root.iterdir():
            if d.name.startswith(".tmp-") and d.is_dir():
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed
