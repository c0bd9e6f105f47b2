"""GPU check of the reference trainer: throughput, MFU and peak memory of a ~0.5B Qwen2 model.

    python infra/trainer/gpu_check.py [--tiny] [--out DIR] [--steps 60] [--seq-len 4096] ...

1. writes packed random shards (docs/shards.md) with shards.py's writer;
2. runs the real trainer (train.py, a subprocess: bf16 autocast, sdpa attention, AdamW fused) on a
   random-init Qwen2.5-0.5B-architecture model (preset qwen2.5-0.5b: 24 layers, hidden 896, 14
   heads / 2 KV heads, intermediate 4864, vocab 151936, tied embedding: 494M params, 358M without
   the embedding) for --steps optimizer steps, then its final checkpoint;
3. reads the trainer's metrics.jsonl and reports tokens/s (steady state: steps after the first
   --skip), MFU and peak memory, to stdout and to <out>/gpu_check.json + gpu_check.txt.

MFU = achieved FLOP/s / peak, peak = 989e12 (H100 SXM dense bf16), achieved = F * tokens/s where
  mfu_6n_nonembed: F = 6 * N_nonembed                 (Kaplan; N without the token embedding)
  mfu_6n:          F = 6 * (N_nonembed + V*d)         (adds the lm_head matmul, tied weights counted once)
  mfu_6n_attn:     F = 6 * (N_nonembed + V*d) + 12 * L * d * S   (PaLM: adds the causal attention scores,
                                                       S = seq_len; counts the full S*S matrix)
--tiny: a 2-layer 512-vocab model on 128-token sequences, a few steps (runs on CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from shards import make_fixture  # noqa: E402

PEAK = 989e12


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--out", default=os.environ.get("OUT") or "gpu-check-out")
    ap.add_argument("--work", default=None, help="shards and checkpoints (default /tmp/bottega-gpu-check-<pid>); not under --out")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--global-batch", type=int, default=None)
    ap.add_argument("--micro-batch", type=int, default=None)
    ap.add_argument("--skip", type=int, default=None, help="warm-up steps left out of the steady-state numbers")
    ap.add_argument("--time-limit", type=float, default=200.0, help="SIGUSR2 the trainer after this many seconds")
    ap.add_argument("--no-final-save", action="store_true")
    a = ap.parse_args()
    if a.tiny:
        d = dict(steps=6, seq_len=128, global_batch=4, micro_batch=2, skip=2, model="tiny-512", vocab=512)
    else:
        d = dict(steps=60, seq_len=4096, global_batch=8, micro_batch=2, skip=5, model="qwen2.5-0.5b", vocab=151936)
    for k in ("steps", "seq_len", "global_batch", "micro_batch", "skip"):
        if getattr(a, k) is not None:
            d[k] = getattr(a, k)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(a.work or f"/tmp/bottega-gpu-check-{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    import torch
    import transformers

    cuda = torch.cuda.is_available()
    info = {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
            "device": torch.cuda.get_device_name(0) if cuda else "cpu", "cuda": torch.version.cuda if cuda else None}
    print(f"[gpu-check] {json.dumps(info)}", flush=True)

    data = work / "data"
    n_seq = d["steps"] * d["global_batch"]
    n_docs = int(1.1 * n_seq / 1.25) + 4  # documents average 1.25 seq_len; 10% spare
    m = make_fixture(data, n_docs=n_docs, seq_len=d["seq_len"], vocab=d["vocab"], kind="random", seed=1,
                     sequences_per_shard=64)
    t_data = time.time() - t0
    print(f"[gpu-check] shards: {m['sequences']} sequences x {d['seq_len']} tokens in {t_data:.1f}s", flush=True)

    def run(micro: int, steps: int, tag: str):
        run_dir = work / f"run-{tag}"
        cmd = [sys.executable, str(HERE / "train.py"), "--data", str(data), "--output", str(run_dir),
               "--model-config", d["model"], "--global-batch", str(d["global_batch"]), "--micro-batch", str(micro),
               "--max-steps", str(steps), "--lr", "3e-4", "--warmup", "0.05", "--attn", "sdpa", "--print-every", "5",
               "--resume", "never", "--keep", "1"]
        log_path = out / f"train-{tag}.log"
        print(f"[gpu-check] {' '.join(cmd)}", flush=True)
        t = time.time()
        with open(log_path, "w") as logf:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
            signalled = False
            for line in p.stdout:
                logf.write(line)
                sys.stdout.write(line)
                if not signalled and time.time() - t > a.time_limit:
                    print(f"[gpu-check] time limit {a.time_limit}s: SIGUSR2 to the trainer", flush=True)
                    p.send_signal(signal.SIGUSR2)
                    signalled = True
            rc = p.wait()
        return rc, run_dir, time.time() - t, log_path.read_text()

    micro = d["micro_batch"]
    rc, run_dir, wall, text = run(micro, d["steps"], f"mb{micro}")
    if rc not in (0, 75) and "out of memory" in text.lower() and micro > 1:
        print(f"[gpu-check] OOM at micro batch {micro}; retrying with 1 and {d['steps'] // 2} steps", flush=True)
        micro = 1
        rc, run_dir, wall, text = run(micro, d["steps"] // 2, "mb1")

    report = {"ok": rc in (0, 75), "trainer_exit": rc, **info, "model": d["model"], "seq_len": d["seq_len"],
              "global_batch": d["global_batch"], "micro_batch": micro, "steps_requested": d["steps"],
              "trainer_wall_s": wall, "shard_write_s": t_data}
    mpath = run_dir / "metrics.jsonl"
    recs = [json.loads(x) for x in mpath.read_text().splitlines()] if mpath.exists() else []
    steps = [r for r in recs if r["event"] == "step"]
    start = next((r for r in recs if r["event"] == "start"), {})
    summary = next((r for r in recs if r["event"] in ("summary", "stopped")), {})
    if steps and start:
        from train import PRESETS, load_model_config  # noqa: F401

        cfg = load_model_config(d["model"])
        n_all, n_emb = start["params"], start["embedding_params"]
        n_non = n_all - n_emb
        tied = bool(getattr(cfg, "tie_word_embeddings", True))
        lm_head = cfg.vocab_size * cfg.hidden_size
        steady = steps[d["skip"]:] or steps
        tok = sum(r["tokens"] for r in steady)
        sec = sum(r["step_s"] for r in steady)
        tps = tok / sec if sec else 0.0
        f6n_non = 6 * n_non
        f6n = 6 * (n_non + lm_head)
        fattn = f6n + 12 * cfg.num_hidden_layers * cfg.hidden_size * d["seq_len"]
        report.update({
            "steps_done": len(steps), "steady_steps": len(steady), "tokens_per_s": tps,
            "tokens_per_s_all_steps": sum(r["tokens"] for r in steps) / max(1e-9, sum(r["step_s"] for r in steps)),
            "step_s_median": sorted(r["step_s"] for r in steady)[len(steady) // 2],
            "params_all": n_all, "params_embedding": n_emb, "params_nonembedding": n_non, "tied_embedding": tied,
            "mfu_6n_nonembed": f6n_non * tps / PEAK, "mfu_6n": f6n * tps / PEAK, "mfu_6n_attn": fattn * tps / PEAK,
            "peak_tflops_assumed": PEAK / 1e12,
            "max_memory_allocated_gb": max((r.get("max_memory_allocated_gb", 0) for r in steps), default=None),
            "loss_first": steps[0]["loss"], "loss_last": steps[-1]["loss"],
            "startup_s": summary.get("startup_s"), "checkpoint_save_s": summary.get("checkpoint_save_s"),
        })
    if cuda:
        report["device_total_memory_gb"] = torch.cuda.get_device_properties(0).total_memory / 2**30
    report["total_s"] = time.time() - t0
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    if mpath.exists():
        (out / "metrics.jsonl").write_text(mpath.read_text())
    lines = [f"{k}: {v}" for k, v in report.items()]
    (out / "gpu_check.txt").write_text("\n".join(lines) + "\n")
    print("[gpu-check] ---- report ----")
    print("\n".join(lines), flush=True)
    return 0 if report["ok"] and steps else 1


if __name__ == "__main__":
    sys.exit(main())
