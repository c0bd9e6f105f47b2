"""The reference trainer run for real on CPU (tiny Qwen2, fixture shards).

    <venv>/bin/python -m unittest discover -s infra/trainer/tests -v

A 512-id vocabulary (preset tiny-512) keeps steps ~10 ms; the fixtures only use ids < 512. One
test runs the full 151,936-id vocabulary (preset tiny) for a few steps.
"""

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "tests"))

from shards import StageData, make_fixture  # noqa: E402

TRAIN = str(HERE / "train.py")
BASE = ["--model-config", "tiny-512", "--global-batch", "8", "--micro-batch", "4", "--lr", "3e-3",
        "--warmup", "0.1", "--epochs", "2", "--threads", "1", "--print-every", "1000"]


def train(*args, env=None, check=None):
    e = dict(os.environ)
    e.pop("BOTTEGA_TRAINER_STOP_AFTER_STEPS", None)
    e.update(env or {})
    p = subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True, env=e, timeout=300)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check})\n{p.stdout}\n{p.stderr}")
    return p


def metrics(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def steps(path):
    return [r for r in metrics(path) if r["event"] == "step"]


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class TrainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        cls.data = cls.root / "mt"
        make_fixture(cls.data, n_docs=96, seq_len=64, vocab=512)
        cls.base_out = cls.root / "base"
        train("--data", str(cls.data), "--output", str(cls.base_out), *BASE, check=0)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def final_weights(self, out):
        """(checkpoint name, sha256 of the weights file, optimizer state as comparable bytes)."""
        import torch

        ck = sorted((Path(out) / "checkpoints").glob("step-*"))[-1]
        osd = torch.load(ck / "optimizer.pt", weights_only=False)
        h = hashlib.sha256()
        for k in sorted(osd["state"]):
            for name in sorted(osd["state"][k]):
                v = osd["state"][k][name]
                h.update(f"{k}.{name}".encode())
                h.update(v.numpy().tobytes() if torch.is_tensor(v) else repr(v).encode())
        return ck.name, sha(ck / "model.safetensors"), h.hexdigest()

    def assert_contiguous(self, recs, total):
        self.assertEqual(recs[0]["first_sample"], 0)
        for a, b in zip(recs, recs[1:]):
            self.assertEqual(b["step"], a["step"] + 1)
            self.assertEqual(b["first_sample"], a["last_sample"] + 1, f"gap/repeat between steps {a['step']}, {b['step']}")
        self.assertEqual(recs[-1]["last_sample"], total - 1)

    def test_loss_decreases_and_files(self):
        recs = steps(self.base_out / "metrics.jsonl")
        n = len(StageData(self.data))
        self.assertEqual(len(recs), math.ceil(2 * n / 8))
        first, last = np.mean([r["loss"] for r in recs[:3]]), np.mean([r["loss"] for r in recs[-3:]])
        self.assertLess(last, first - 1.5, f"loss {first:.3f} -> {last:.3f}")
        for r in recs:
            for k in ("step", "epoch", "first_sample", "last_sample", "loss", "lr", "tokens", "tokens_per_s", "elapsed_s"):
                self.assertIn(k, r)
        self.assert_contiguous(recs, 2 * n)
        summary = metrics(self.base_out / "metrics.jsonl")[-1]
        self.assertEqual(summary["event"], "summary")
        self.assertEqual(summary["status"], "completed")
        ck = Path(summary["checkpoint"])
        for f in ("COMPLETE", "model.safetensors", "config.json", "optimizer.pt", "trainer_state.json", "rng-rank00000.pt"):
            self.assertTrue((ck / f).is_file(), f)
        marker = json.loads((ck / "COMPLETE").read_text())
        self.assertEqual(marker["step"], len(recs))
        self.assertEqual(marker["files"]["model.safetensors"], (ck / "model.safetensors").stat().st_size)
        st = json.loads((ck / "trainer_state.json").read_text())
        self.assertEqual(st["next_position"], 2 * n)
        # warmup then cosine: peak at the end of warmup, decreasing after
        lrs = [r["lr"] for r in recs]
        w = int(math.ceil(0.1 * len(recs)))
        self.assertAlmostEqual(lrs[w - 1], 3e-3)
        self.assertTrue(all(a >= b for a, b in zip(lrs[w:], lrs[w + 1:])))
        self.assertGreater(lrs[-1], 3e-4 - 1e-12)

    def test_same_seed_same_curve(self):
        out = self.root / "again"
        train("--data", str(self.data), "--output", str(out), *BASE, "--max-steps", "6", check=0)
        a = [r["loss"] for r in steps(out / "metrics.jsonl")]
        # a different cap changes the schedule, so compare with a same-cap run, and the data order
        out2 = self.root / "again2"
        train("--data", str(self.data), "--output", str(out2), *BASE, "--max-steps", "6", check=0)
        self.assertEqual(a, [r["loss"] for r in steps(out2 / "metrics.jsonl")])
        out3 = self.root / "seed1"
        train("--data", str(self.data), "--output", str(out3), *BASE, "--max-steps", "6", "--seed", "1", check=0)
        self.assertNotEqual(a, [r["loss"] for r in steps(out3 / "metrics.jsonl")])

    def test_stop_knob_resume_equals_uninterrupted(self):
        out = self.root / "knob"
        codes = []
        for _ in range(10):
            p = train("--data", str(self.data), "--output", str(out), *BASE, "--save-every", "4", "--keep", "2",
                      env={"BOTTEGA_TRAINER_STOP_AFTER_STEPS": "12"})
            codes.append(p.returncode)
            if p.returncode != 75:
                break
        self.assertEqual(codes[-1], 0, codes)
        self.assertEqual(len(codes), 3)  # 32 steps: 12 + 12 + 8
        self.assertTrue(all(c == 75 for c in codes[:-1]), codes)
        self.assertEqual(self.final_weights(out), self.final_weights(self.base_out))
        recs = steps(out / "metrics.jsonl")
        self.assert_contiguous(recs, 2 * len(StageData(self.data)))
        self.assertEqual([r["loss"] for r in recs], [r["loss"] for r in steps(self.base_out / "metrics.jsonl")])
        self.assertEqual(len([r for r in metrics(out / "metrics.jsonl") if r["event"] == "stopped"]), len(codes) - 1)
        self.assertEqual(json.loads((out / "trainer-exit.json").read_text())["exit_code"], 0)
        self.assertLessEqual(len(list((out / "checkpoints").glob("step-*"))), 2)  # --keep 2

    def test_sigusr2_mid_run_then_resume(self):
        out = self.root / "usr2"
        env = dict(os.environ, SLOW_STEP_S="0.15")  # slow steps so the signal lands mid-run
        env.pop("BOTTEGA_TRAINER_STOP_AFTER_STEPS", None)
        p = subprocess.Popen([sys.executable, str(HERE / "tests" / "slow_train.py"), "--data", str(self.data),
                              "--output", str(out), *BASE], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        mpath = out / "metrics.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline:
            if mpath.exists() and len([ln for ln in mpath.read_text().splitlines() if '"step"' in ln]) >= 3:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGUSR2)
        outp, _ = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 75, outp)
        self.assertIn("got SIGUSR2", outp)
        stopped = [r for r in metrics(mpath) if r["event"] == "stopped"]
        self.assertEqual(len(stopped), 1)
        self.assertEqual(stopped[0]["reason"], "SIGUSR2")
        self.assertEqual(json.loads((out / "trainer-exit.json").read_text())["exit_code"], 75)
        k = stopped[0]["step"]
        self.assertLess(k, len(steps(self.base_out / "metrics.jsonl")))
        train("--data", str(self.data), "--output", str(out), *BASE, check=0)
        self.assertEqual(self.final_weights(out), self.final_weights(self.base_out))
        self.assert_contiguous(steps(mpath), 2 * len(StageData(self.data)))
        self.assertEqual(json.loads((out / "trainer-exit.json").read_text())["exit_code"], 0)

    def test_fsdp_two_ranks_then_single_process_resume(self):
        """torchrun, 2 CPU ranks (gloo), FSDP2; stopped, then finished by one process. Same data
        order, so the curve matches the single-process one up to float reduction order."""
        out = self.root / "fsdp"
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531"]
        e = dict(os.environ)
        e.pop("BOTTEGA_TRAINER_STOP_AFTER_STEPS", None)
        p = subprocess.run([*torchrun, TRAIN, "--data", str(self.data), "--output", str(out), *BASE, "--fsdp",
                            "--micro-batch", "2", "--stop-after-steps", "10"], capture_output=True, text=True, env=e,
                           timeout=300)
        self.assertEqual(json.loads((out / "trainer-exit.json").read_text())["exit_code"], 75, p.stdout + p.stderr)
        self.assertTrue((out / "checkpoints" / "step-00000010" / "rng-rank00001.pt").is_file())
        train("--data", str(self.data), "--output", str(out), *BASE, check=0)
        recs = steps(out / "metrics.jsonl")
        self.assert_contiguous(recs, 2 * len(StageData(self.data)))
        base = [r["loss"] for r in steps(self.base_out / "metrics.jsonl")]
        np.testing.assert_allclose([r["loss"] for r in recs], base, rtol=1e-4)

    def test_incomplete_checkpoints_are_ignored(self):
        out = self.root / "torn"
        train("--data", str(self.data), "--output", str(out), *BASE, "--stop-after-steps", "5", check=75)
        ck = out / "checkpoints"
        # a save killed before its rename, and a step dir whose marker does not match its files
        (ck / ".tmp-step-00000009-123").mkdir()
        (ck / ".tmp-step-00000009-123" / "model.safetensors").write_bytes(b"partial")
        bad = ck / "step-00000008"
        bad.mkdir()
        (bad / "model.safetensors").write_bytes(b"xx")
        (bad / "COMPLETE").write_text(json.dumps({"step": 8, "files": {"model.safetensors": 999}}))
        p = train("--data", str(self.data), "--output", str(out), *BASE, "--stop-after-steps", "1", check=75)
        self.assertIn("resumed from", p.stdout)
        self.assertIn("step-00000005", p.stdout)
        self.assertFalse((ck / ".tmp-step-00000009-123").exists())
        # a hard kill after step 6 left a metrics line the checkpoint does not cover
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"event": "step", "step": 7, "first_sample": 48, "last_sample": 55}) + "\n")
            f.write('{"event": "st')
        train("--data", str(self.data), "--output", str(out), *BASE, check=0)
        self.assert_contiguous(steps(out / "metrics.jsonl"), 2 * len(StageData(self.data)))
        self.assertEqual(self.final_weights(out)[1], self.final_weights(self.base_out)[1])

    def test_masked_loss_counts_only_mask_1(self):
        from masked_loss import manual_first_step

        d = self.root / "sft"
        make_fixture(d, n_docs=20, seq_len=48, vocab=512, loss_mask="sft", pack=False, seed=3)
        out = self.root / "sft-run"
        train("--data", str(d), "--output", str(out), "--model-config", "tiny-512", "--global-batch", "6",
              "--micro-batch", "4", "--max-steps", "1", "--threads", "1", "--seed", "5", check=0)
        r = manual_first_step(d, out / "metrics.jsonl", "tiny-512", 5)
        self.assertEqual(r["reported_loss_tokens"], r["manual_loss_tokens"])
        self.assertLess(r["manual_loss_tokens"], r["all_tokens"] * 0.7)  # the sft mask removes about half
        self.assertAlmostEqual(r["reported_loss"], r["manual_loss"], places=4)
        self.assertNotAlmostEqual(r["reported_loss"], r["all_tokens_loss"], places=3)

    def test_full_vocab_tiny_model(self):
        d = self.root / "fullvocab"
        make_fixture(d, n_docs=8, seq_len=32, vocab=151936, kind="random")
        out = self.root / "fullvocab-run"
        train("--data", str(d), "--output", str(out), "--model-config", "tiny", "--global-batch", "2",
              "--max-steps", "3", "--lr", "1e-3", check=0)
        recs = steps(out / "metrics.jsonl")
        self.assertEqual(len(recs), 3)
        self.assertAlmostEqual(recs[0]["loss"], math.log(151936), delta=0.5)

    def test_errors_name_the_flag_or_file(self):
        out = str(self.root / "err")
        p = train("--data", str(self.data), "--output", out, *BASE, "--warmup", "1.5", check=2)
        self.assertIn("--warmup", p.stderr)
        p = train("--data", str(self.root / "nope"), "--output", out, *BASE, check=3)
        self.assertIn(str(self.root / "nope"), p.stderr)
        p = train("--data", str(self.data), "--output", out, "--model-config", '{"preset": "tiny-512", "vocab_size": 100}',
                  "--max-steps", "1", check=3)
        self.assertIn("manifest.json", p.stderr)
        p = train("--data", str(self.data), "--output", out, "--model", str(self.root / "no-model"), check=4)
        self.assertIn("--model", p.stderr)
        # resume with another global batch: the data position would mean something else
        final = sorted((self.base_out / "checkpoints").glob("step-*"))[-1]
        p = train("--data", str(self.data), "--output", out, *BASE, "--global-batch", "4", "--resume", str(final),
                  check=4)
        self.assertIn("--global-batch", p.stderr)
        p = train("--data", str(self.data), "--output", out, *BASE, "--resume", str(self.root), check=4)
        self.assertIn("not a complete checkpoint", p.stderr)
        cfg = self.root / "hp.json"
        cfg.write_text(json.dumps({"global-batch": 8, "bogus": 1}))
        p = train("--config", str(cfg), "--data", str(self.data), "--output", out, check=2)
        self.assertIn("bogus", p.stderr)


if __name__ == "__main__":
    unittest.main()
