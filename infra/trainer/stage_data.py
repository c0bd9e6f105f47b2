"""Stage a training stage's shards onto node-local disk before the trainer starts.

The train stage runs this in each node task of a Slurm job when the shards live in S3 (no shared
filesystem between the store and the cluster): the worker writes a list of presigned GET URLs (no
credentials reach the cluster) with each file's name, size and sha256, and this script downloads
them into --dest, checks them, and leaves a directory the trainer reads with --data.

  python3 stage_data.py --list data-urls.json --dest /tmp/bottega-data/<job>

Files already in --dest with the right size and sha256 are kept (a requeued job does not download
again). Standard library only. Exit codes: 0 staged; 2 bad list; 3 a download failed (the message
names the file and the HTTP status; 403 usually means the URLs expired: resubmit the stage).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, want_sha: str, want_bytes: int, attempts: int = 4) -> None:
    tmp = dest.with_name(dest.name + ".part")
    last = ""
    for attempt in range(attempts):
        try:
            h = hashlib.sha256()
            n = 0
            with urllib.request.urlopen(url, timeout=120) as r, tmp.open("wb") as out:
                for block in iter(lambda: r.read(CHUNK), b""):
                    h.update(block)
                    out.write(block)
                    n += len(block)
            if n != want_bytes or h.hexdigest() != want_sha:
                last = f"got {n} bytes sha256 {h.hexdigest()}, the list says {want_bytes} bytes sha256 {want_sha}"
            else:
                os.replace(tmp, dest)
                return
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code} {e.reason}"
            if e.code in (400, 403, 404):
                break  # expired, refused or gone: retrying will not help
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            last = str(e)
        if attempt + 1 < attempts:
            time.sleep(min(30, 2**attempt))
    tmp.unlink(missing_ok=True)
    hint = " (presigned URLs expire: resubmit the stage)" if last.startswith("HTTP 403") else ""
    raise RuntimeError(f"{dest.name}: {last}{hint}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", required=True, help="JSON {files: [{name, url, sha256, bytes}]} written by the train stage")
    ap.add_argument("--dest", required=True, help="node-local directory the trainer reads (--data)")
    ap.add_argument("--attempts", type=int, default=4, help="tries per file (network errors, bad bytes)")
    a = ap.parse_args()
    try:
        files = json.loads(Path(a.list).read_text())["files"]
        for f in files:
            if "/" in f["name"] or f["name"] in ("", ".", ".."):
                raise ValueError(f"not a plain file name: {f['name']!r}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"[bottega] stage_data: {a.list}: {e}", file=sys.stderr)
        return 2
    dest = Path(a.dest)
    dest.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    kept = got = 0
    size = 0
    try:
        for f in files:
            p = dest / f["name"]
            size += int(f["bytes"])
            if p.exists() and p.stat().st_size == int(f["bytes"]) and sha256_of(p) == f["sha256"]:
                kept += 1
                continue
            fetch(f["url"], p, f["sha256"], int(f["bytes"]), max(1, a.attempts))
            got += 1
    except RuntimeError as e:
        print(f"[bottega] stage_data: {e}", file=sys.stderr)
        return 3
    print(
        f"[bottega] staged {len(files)} files ({size / 1e6:.1f} MB) into {dest} in {time.time() - t0:.1f} s"
        f" ({got} downloaded, {kept} already there)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
