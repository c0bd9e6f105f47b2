#!/usr/bin/env python3
"""bottega reference trainer: a causal LM (Qwen2 family) on the mix stage's pre-tokenized shards.

    python infra/trainer/train.py --data <stage dir> --model <HF dir> --output <run dir> [flags]
    torchrun --nproc-per-node 8 infra/trainer/train.py ... [--fsdp]

See README.md for the flags, the checkpoint layout, the metrics and the exit codes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import checkpoint as ckpt  # noqa: E402
from shards import ShardError, StageData  # noqa: E402

# ----------------------------------------------------------------------------- exit codes
EXIT_OK = 0
EXIT_CRASH = 1  # an unexpected exception (traceback on stderr)
EXIT_USAGE = 2  # a bad flag, hyperparameter file or model config
EXIT_DATA = 3  # the shards: missing/invalid file, token id outside the model's vocabulary
EXIT_CHECKPOINT = 4  # the model dir or a checkpoint cannot be loaded, or does not match this run
EXIT_NONFINITE = 5  # the loss became NaN/inf
EXIT_REQUEUE = 75  # stopped on SIGUSR2/SIGTERM/SIGINT or --stop-after-steps; a checkpoint was saved


class Fail(Exception):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code = code


# ----------------------------------------------------------------------------- model presets

PRESETS = {
    # 2 layers, hidden 64, the full Qwen vocabulary (9.8M params, 9.7M of them the tied embedding)
    "tiny": dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                 tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6),
    # the same with a 512-id vocabulary: for fixtures whose ids are all < 512 (fast CPU tests)
    "tiny-512": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                     tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6),
    # Qwen2.5-0.5B's architecture (494M params, 358M without the tied embedding)
    "qwen2.5-0.5b": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                         tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6),
}

# ----------------------------------------------------------------------------- flags

DEFAULTS = dict(
    data=None, model=None, model_config=None, output=None, checkpoint_dir=None, metrics=None,
    global_batch=1024, micro_batch=1, lr=8e-5, warmup=0.05, min_lr_ratio=0.1, epochs=1.0, max_steps=0,
    weight_decay=0.1, beta1=0.9, beta2=0.95, eps=1e-8, grad_clip=1.0, seed=0, data_seed=None,
    save_every=0, keep=3, resume="auto", stop_after_steps=0, stop_file=None, exit_file=None, precision="auto", attn="sdpa", fsdp=False,
    grad_checkpointing=False, max_seq_len=0, threads=0, deterministic=None, print_every=1,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py", description="bottega reference trainer (see infra/trainer/README.md)",
        argument_default=argparse.SUPPRESS,
    )
    a = p.add_argument
    a("--config", help="JSON file of hyperparameters (keys = flag names, '-' or '_'); flags given on the command line win")
    a("--data", help="stage directory written by the mix stage (manifest.json + shards)")
    a("--model", help="local Hugging Face model directory to start from")
    a("--model-config", help="random init: a preset (" + ", ".join(PRESETS) + "), a JSON object or a JSON file; "
      "an object may name a 'preset' and override its fields")
    a("--output", help="run directory: checkpoints/ and metrics.jsonl go here")
    a("--checkpoint-dir", help="default <output>/checkpoints")
    a("--metrics", help="metrics JSONL file, default <output>/metrics.jsonl (appended to)")
    a("--global-batch", type=int, help="sequences per optimizer step, all ranks together (default 1024)")
    a("--micro-batch", type=int, help="sequences per forward pass per rank (default 1); accumulation is derived")
    a("--lr", type=float, help="peak learning rate (default 8e-5)")
    a("--warmup", type=float, help="warmup fraction of the steps (default 0.05), linear from lr/warmup_steps")
    a("--min-lr-ratio", type=float, help="cosine decays to lr*ratio (default 0.1)")
    a("--epochs", type=float, help="passes over the data (default 1; fractions allowed)")
    a("--max-steps", type=int, help="cap on optimizer steps (0 = none); the schedule spans the capped count")
    a("--weight-decay", type=float, help="AdamW weight decay on matrices (default 0.1); none on norms/biases")
    a("--beta1", type=float)
    a("--beta2", type=float)
    a("--eps", type=float)
    a("--grad-clip", type=float, help="clip the global grad norm (default 1.0; 0 = off)")
    a("--seed", type=int, help="model init and RNG seed (default 0)")
    a("--data-seed", type=int, help="seed of the per-epoch data permutation (default = --seed)")
    a("--save-every", type=int, help="checkpoint every N steps (0 = only at the end and on stop)")
    a("--keep", type=int, help="keep the newest K complete checkpoints (default 3; 0 = all)")
    a("--resume", help="'auto' (newest complete checkpoint in --checkpoint-dir, if any), 'never', or a checkpoint dir")
    a("--stop-after-steps", type=int, help="simulate a preemption: after N optimizer steps in this process, save "
      "and exit 75 (env BOTTEGA_TRAINER_STOP_AFTER_STEPS)")
    a("--stop-file", help="stop like on SIGUSR2 when this file exists (checked at each step end; removed once "
      "acted on). For a batch-shell trap: trap 'touch $STOP' USR2 (env BOTTEGA_TRAINER_STOP_FILE)")
    a("--exit-file", help="JSON written by rank 0 on exit: {exit_code, reason, step} (default <output>/trainer-exit.json, "
      "else next to --metrics); torchrun turns a worker's 75 into its own 1, this file keeps the 75")
    a("--precision", choices=["auto", "bf16", "fp32"], help="auto = bf16 autocast on GPU, fp32 on CPU")
    a("--attn", choices=["sdpa", "eager", "flash_attention_2"], help="attention implementation (default sdpa)")
    a("--fsdp", action="store_true", help="shard with FSDP2 (fully_shard per decoder layer) when WORLD_SIZE>1")
    a("--grad-checkpointing", action="store_true", help="activation checkpointing (less memory, ~30%% slower)")
    a("--max-seq-len", type=int, help="truncate longer sequences (unpacked stages); 0 = no limit")
    a("--threads", type=int, help="CPU threads for torch (0 = torch's default)")
    a("--deterministic", type=int, choices=[0, 1], help="torch.use_deterministic_algorithms (default 1 on CPU, 0 on GPU)")
    a("--print-every", type=int, help="stdout progress line every N steps (metrics get every step)")
    return p


def parse_args(argv) -> argparse.Namespace:
    p = build_parser()
    cli = vars(p.parse_args(argv))
    cfg = dict(DEFAULTS)
    if "config" in cli:
        path = Path(cli.pop("config"))
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise Fail(EXIT_USAGE, f"--config {path}: file not found") from None
        except json.JSONDecodeError as e:
            raise Fail(EXIT_USAGE, f"--config {path}: invalid JSON ({e})") from None
        if not isinstance(data, dict):
            raise Fail(EXIT_USAGE, f"--config {path}: expected a JSON object")
        for k, v in data.items():
            key = k.replace("-", "_")
            if key not in DEFAULTS:
                raise Fail(EXIT_USAGE, f"--config {path}: unknown key '{k}' (known: {', '.join(sorted(DEFAULTS))})")
            cfg[key] = v
    cfg.update(cli)
    env_stop = os.environ.get("BOTTEGA_TRAINER_STOP_AFTER_STEPS")
    if env_stop and "stop_after_steps" not in cli:
        try:
            cfg["stop_after_steps"] = int(env_stop)
        except ValueError:
            raise Fail(EXIT_USAGE, f"BOTTEGA_TRAINER_STOP_AFTER_STEPS={env_stop!r}: not an integer") from None
    if os.environ.get("BOTTEGA_TRAINER_STOP_FILE") and "stop_file" not in cli:
        cfg["stop_file"] = os.environ["BOTTEGA_TRAINER_STOP_FILE"]
    args = argparse.Namespace(**cfg)
    validate(args)
    return args


def validate(a) -> None:
    def need(cond, flag, msg):
        if not cond:
            raise Fail(EXIT_USAGE, f"{flag}: {msg}")

    need(a.data, "--data", "required (the stage directory holding manifest.json)")
    need(a.output or (a.checkpoint_dir and a.metrics), "--output", "required (or both --checkpoint-dir and --metrics)")
    need(bool(a.model) != bool(a.model_config), "--model/--model-config", "give exactly one")
    for flag, v, lo in [("--global-batch", a.global_batch, 1), ("--micro-batch", a.micro_batch, 1),
                        ("--max-steps", a.max_steps, 0), ("--save-every", a.save_every, 0), ("--keep", a.keep, 0),
                        ("--stop-after-steps", a.stop_after_steps, 0), ("--max-seq-len", a.max_seq_len, 0),
                        ("--threads", a.threads, 0), ("--print-every", a.print_every, 1)]:
        need(isinstance(v, int) and not isinstance(v, bool) and v >= lo, flag, f"must be an integer >= {lo} (got {v!r})")
    for flag, v in [("--lr", a.lr), ("--epochs", a.epochs), ("--weight-decay", a.weight_decay), ("--eps", a.eps),
                    ("--grad-clip", a.grad_clip)]:
        need(isinstance(v, (int, float)) and v >= 0 and math.isfinite(v), flag, f"must be a finite number >= 0 (got {v!r})")
    need(a.lr > 0, "--lr", "must be > 0")
    need(a.epochs > 0, "--epochs", "must be > 0")
    need(0 <= a.warmup < 1, "--warmup", f"a fraction in [0, 1) (got {a.warmup!r})")
    need(0 <= a.min_lr_ratio <= 1, "--min-lr-ratio", f"in [0, 1] (got {a.min_lr_ratio!r})")
    need(0 <= a.beta1 < 1 and 0 <= a.beta2 < 1, "--beta1/--beta2", "in [0, 1)")
    need(a.precision in ("auto", "bf16", "fp32"), "--precision", "auto, bf16 or fp32")
    need(a.attn in ("sdpa", "eager", "flash_attention_2"), "--attn", "sdpa, eager or flash_attention_2")
    if a.data_seed is None:
        a.data_seed = a.seed


# ----------------------------------------------------------------------------- schedule and data order


def lr_at(step: int, total: int, peak: float, warmup_steps: int, min_ratio: float) -> float:
    """LR of 0-based optimizer step `step`: linear warmup to peak, then cosine to peak*min_ratio."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    decay = max(1, total - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class Order:
    """The data stream: epoch e is a permutation of 0..N-1 seeded by (data_seed, e); position p of
    the stream is sequence perm_{p // N}[p % N]."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self._cache = n, seed, {}

    def perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._cache:
            if len(self._cache) > 2:
                self._cache.pop(min(self._cache))
            self._cache[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._cache[epoch]

    def sample(self, pos: int) -> int:
        return int(self.perm(pos // self.n)[pos % self.n])


# ----------------------------------------------------------------------------- the run


def log(msg: str, rank: int = 0) -> None:
    if rank == 0:
        print(f"[train] {msg}", flush=True)


class StopFlag:
    def __init__(self):
        self.signal = None

    def handler(self, signum, _frame):
        if self.signal is None:
            self.signal = signal.Signals(signum).name
            print(f"[train] got {self.signal}: finishing the current step, then checkpoint and exit "
                  f"{EXIT_REQUEUE}", flush=True)

    def install(self):
        for s in (signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self.handler)


def load_model_config(spec: str):
    from transformers import AutoConfig, Qwen2Config

    obj = None
    if spec in PRESETS:
        obj = {"preset": spec}
    elif spec.lstrip().startswith("{"):
        try:
            obj = json.loads(spec)
        except json.JSONDecodeError as e:
            raise Fail(EXIT_USAGE, f"--model-config: invalid JSON ({e})") from None
    else:
        path = Path(spec)
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise Fail(EXIT_USAGE, f"--model-config {spec}: not a preset ({', '.join(PRESETS)}), JSON object or file")
        try:
            obj = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise Fail(EXIT_USAGE, f"--model-config {path}: invalid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise Fail(EXIT_USAGE, "--model-config: expected a JSON object")
    obj = dict(obj)
    preset = obj.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise Fail(EXIT_USAGE, f"--model-config: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        obj = {**PRESETS[preset], **obj}
    model_type = obj.pop("model_type", "qwen2")
    try:
        if model_type == "qwen2":
            return Qwen2Config(**obj)
        return AutoConfig.for_model(model_type, **obj)
    except Exception as e:  # noqa: BLE001
        raise Fail(EXIT_USAGE, f"--model-config: {type(e).__name__}: {e}") from None


def write_exit_file(args, code: int, reason: str, step=None) -> None:
    if args is None or int(os.environ.get("RANK", "0")) != 0:
        return
    path = args.exit_file or (Path(args.output) / "trainer-exit.json" if args.output
                              else Path(args.metrics).with_name("trainer-exit.json"))
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps({"exit_code": code, "reason": reason, "step": step, "time": time.time()}) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        print(f"train.py: warning: cannot write the exit file {path}: {e}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    t_start = time.time()
    args = None
    try:
        args = parse_args(argv if argv is not None else sys.argv[1:])
        code, reason, step = run(args, t_start)
        write_exit_file(args, code, reason, step)
        return code
    except Fail as f:
        print(f"train.py: error: {f}", file=sys.stderr, flush=True)
        write_exit_file(args, f.code, str(f))
        return f.code
    except ShardError as e:
        print(f"train.py: error: data: {e}", file=sys.stderr, flush=True)
        write_exit_file(args, EXIT_DATA, f"data: {e}")
        return EXIT_DATA
    except Exception as e:  # noqa: BLE001
        write_exit_file(args, EXIT_CRASH, f"{type(e).__name__}: {e}")
        raise


def run(args, t_start: float) -> int:
    stop = StopFlag()
    stop.install()  # before the slow imports, so an early signal is not fatal

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    # the data first (numpy only): a wrong --data fails in a fraction of a second
    data = StageData(args.data)

    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    # ---- distributed
    distributed = world > 1
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if distributed:
        import torch.distributed as dist

        dist.init_process_group(backend="nccl" if cuda else "gloo")
    if args.threads:
        torch.set_num_threads(args.threads)
    deterministic = (not cuda) if args.deterministic is None else bool(args.deterministic)
    if deterministic:
        if cuda:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    bf16 = args.precision == "bf16" or (args.precision == "auto" and cuda)
    if bf16 and not cuda:
        log("warning: bf16 autocast on CPU is slow; --precision fp32 is the CPU default", rank)

    def all_reduce(t, op="sum"):
        if distributed:
            import torch.distributed as dist

            dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
        return t

    def barrier():
        if distributed:
            import torch.distributed as dist

            dist.barrier()

    # ---- paths
    out = Path(args.output) if args.output else None
    ckpt_root = Path(args.checkpoint_dir) if args.checkpoint_dir else out / "checkpoints"
    metrics_path = Path(args.metrics) if args.metrics else out / "metrics.jsonl"
    if rank == 0:
        for flag, p in (("--checkpoint-dir", ckpt_root), ("--metrics", metrics_path.parent)):
            try:
                p.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise Fail(EXIT_USAGE, f"{flag} {p}: cannot create ({e.strerror})") from None
        ckpt.sweep_tmp(ckpt_root)
    barrier()

    # ---- data plan
    n = len(data)
    total_samples = int(math.floor(args.epochs * n))
    if total_samples < 1:
        raise Fail(EXIT_USAGE, f"--epochs {args.epochs}: less than one sequence of {n}")
    total_steps = math.ceil(total_samples / args.global_batch)
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    warmup_steps = int(math.ceil(args.warmup * total_steps))
    per_rank = math.ceil(args.global_batch / world)
    accum = math.ceil(per_rank / args.micro_batch)
    if args.global_batch % (world * args.micro_batch):
        log(f"note: --global-batch {args.global_batch} is not a multiple of world {world} x --micro-batch "
            f"{args.micro_batch}; the last micro batch of a rank is smaller", rank)
    order = Order(n, args.data_seed)

    # ---- model
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed % 2**32)
    if args.model:
        mdir = Path(args.model)
        if not (mdir / "config.json").is_file():
            raise Fail(EXIT_CHECKPOINT, f"--model {mdir}: no config.json (expected a Hugging Face model directory)")
        try:
            model = AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation=args.attn)
        except Exception as e:  # noqa: BLE001
            raise Fail(EXIT_CHECKPOINT, f"--model {mdir}: cannot load ({type(e).__name__}: {e})") from None
    else:
        config = load_model_config(args.model_config)
        try:
            model = AutoModelForCausalLM.from_config(config, attn_implementation=args.attn)
        except Exception as e:  # noqa: BLE001
            raise Fail(EXIT_USAGE, f"--model-config: cannot build the model ({type(e).__name__}: {e})") from None
    model = model.float()
    model.config.use_cache = False
    vocab = model.get_input_embeddings().weight.shape[0]
    mv = data.vocab_size
    if mv is not None and int(mv) > vocab:
        raise Fail(EXIT_DATA, f"{data.dir / 'manifest.json'}: tokenizer.vocab_size {mv} exceeds the model's "
                   f"embedding rows {vocab} (wrong --model/--model-config for these shards?)")
    if args.grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = model.get_input_embeddings().weight.numel()
    hf_model = model  # the unwrapped module (save_pretrained, config)

    if distributed and args.fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
        kw = {"mp_policy": mp} if mp else {}
        for layer in hf_model.model.layers:
            fully_shard(layer, **kw)
        fully_shard(hf_model, **kw)
        train_model = hf_model
        autocast_bf16 = False  # FSDP's policy casts the params
    elif distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(hf_model, device_ids=[local_rank] if cuda else None)
        autocast_bf16 = bf16
    else:
        train_model = hf_model
        autocast_bf16 = bf16

    decay, no_decay = [], []
    for name, p in hf_model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    opt_kw = dict(lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps)
    if cuda and not distributed:
        opt_kw["fused"] = True
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], **opt_kw
    )

    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions, get_model_state_dict, get_optimizer_state_dict, set_model_state_dict,
        set_optimizer_state_dict,
    )

    # distributed: gather full (unsharded) state to rank 0 on CPU. Single process: the plain state
    # (no collectives; older torch calls dist.get_rank() for cpu_offload), copied to CPU below.
    full_opts = StateDictOptions(full_state_dict=True, cpu_offload=True) if distributed else StateDictOptions()

    def to_cpu(obj):
        if torch.is_tensor(obj):
            return obj.detach().to("cpu", copy=True)
        if isinstance(obj, dict):
            return {k: to_cpu(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(to_cpu(v) for v in obj)
        return obj

    # ---- resume
    plan = {"num_sequences": n, "global_batch": args.global_batch, "data_seed": args.data_seed,
            "total_steps": total_steps, "total_samples": total_samples}
    step, pos, elapsed_prev, tokens_seen = 0, 0, 0.0, 0
    resumed_from = None
    if args.resume != "never":
        src = ckpt.latest(ckpt_root) if args.resume == "auto" else Path(args.resume)
        if args.resume not in ("auto",) and (src is None or not ckpt.is_complete(src)):
            raise Fail(EXIT_CHECKPOINT, f"--resume {args.resume}: not a complete checkpoint (no valid COMPLETE marker)")
        if src is not None:
            try:
                st = json.loads((src / "trainer_state.json").read_text())
            except (OSError, ValueError) as e:
                raise Fail(EXIT_CHECKPOINT, f"{src / 'trainer_state.json'}: unreadable ({e})") from None
            for k, v in plan.items():
                if st["plan"].get(k) != v:
                    flag = {"num_sequences": "--data", "global_batch": "--global-batch", "data_seed": "--data-seed",
                            "total_steps": "--max-steps/--epochs/--global-batch", "total_samples": "--epochs"}[k]
                    raise Fail(EXIT_CHECKPOINT, f"{src}: was written with {k}={st['plan'].get(k)}, this run has "
                               f"{v} ({flag} changed?); resume with the same settings or --resume never")
            try:
                from safetensors.torch import load_file

                sd = load_file(str(src / "model.safetensors"))
                res = set_model_state_dict(train_model, sd, options=StateDictOptions(full_state_dict=distributed,
                                                                                     strict=False))
                tied = set(getattr(hf_model, "_tied_weights_keys", None) or {})
                missing = [k for k in res.missing_keys if k not in tied]
                if missing or res.unexpected_keys:
                    raise Fail(EXIT_CHECKPOINT, f"{src / 'model.safetensors'}: missing {missing[:5]}, "
                               f"unexpected {res.unexpected_keys[:5]}")
                osd = torch.load(src / "optimizer.pt", map_location="cpu", weights_only=False)
                set_optimizer_state_dict(train_model, optimizer, osd,
                                         options=StateDictOptions(full_state_dict=distributed))
                rng_file = src / f"rng-rank{rank:05d}.pt"
                if rng_file.exists():
                    rng = torch.load(rng_file, map_location="cpu", weights_only=False)
                    random.setstate(rng["python"])
                    np.random.set_state(rng["numpy"])
                    torch.set_rng_state(rng["torch"])
                    if cuda and rng.get("cuda") is not None:
                        torch.cuda.set_rng_state(rng["cuda"], device)
                else:
                    log(f"note: {rng_file.name} absent (world size changed?); RNG reseeded from --seed + step", rank)
                    torch.manual_seed(args.seed + st["step"])
            except Fail:
                raise
            except Exception as e:  # noqa: BLE001
                raise Fail(EXIT_CHECKPOINT, f"{src}: cannot load ({type(e).__name__}: {e})") from None
            step, pos = st["step"], st["next_position"]
            elapsed_prev, tokens_seen = st.get("elapsed_s", 0.0), st.get("tokens_seen", 0)
            resumed_from = str(src)
            log(f"resumed from {src} at step {step}, epoch {pos // n}, sample {pos % n} (stream position {pos})", rank)

    # ---- metrics file: drop lines past the checkpoint (a hard kill after the last save), then append
    if rank == 0:
        if metrics_path.exists():
            lines = metrics_path.read_text().splitlines(keepends=True)
            keep, dropped = [], 0
            for ln in lines:
                try:
                    rec = json.loads(ln)
                except ValueError:
                    dropped += 1  # a torn last line
                    continue
                if rec.get("event") == "step" and rec.get("step", 0) > step:
                    dropped += 1
                    continue
                keep.append(ln if ln.endswith("\n") else ln + "\n")
            if dropped:
                tmp = metrics_path.with_name(metrics_path.name + ".tmp")
                tmp.write_text("".join(keep))
                os.replace(tmp, metrics_path)
                log(f"metrics: dropped {dropped} line(s) past the resumed checkpoint (step {step})")
        mfile = open(metrics_path, "a", buffering=1)
    else:
        mfile = None

    def emit(rec: dict):
        if mfile:
            mfile.write(json.dumps(rec) + "\n")
            mfile.flush()

    emit({"event": "start", "time": time.time(), "step": step, "position": pos, "resumed_from": resumed_from,
          "world_size": world, "device": str(device), "precision": "bf16" if bf16 else "fp32", "params": n_params,
          "embedding_params": n_embed, "total_steps": total_steps, "warmup_steps": warmup_steps,
          "grad_accum": accum, "sequences": n, "restart_count": int(os.environ.get("SLURM_RESTART_COUNT", "0")),
          "hparams": {k: getattr(args, k) for k in DEFAULTS}})
    log(f"{n} sequences ({data.dir}), {n_params / 1e6:.1f}M params, {total_steps} steps of {args.global_batch} "
        f"sequences, micro {args.micro_batch} x accum {accum} x world {world}, {'bf16' if bf16 else 'fp32'} "
        f"on {device}", rank)

    # ---- checkpoint writer
    def save(step_done: int, next_pos: int, elapsed: float) -> Path:
        token = str(os.environ.get("SLURM_JOB_ID", "")) + f"{os.getpid() if rank == 0 else 0}"
        tmp = ckpt.tmp_dir_for(ckpt_root, step_done, token)
        if distributed:  # every rank needs rank 0's tmp name
            import torch.distributed as dist

            holder = [str(tmp)]
            dist.broadcast_object_list(holder, src=0)
            tmp = Path(holder[0])
        if rank == 0:
            tmp.mkdir(parents=True)
        barrier()
        msd = get_model_state_dict(train_model, options=full_opts)
        osd = get_optimizer_state_dict(train_model, optimizer, options=full_opts)
        if not distributed:
            msd, osd = to_cpu(msd), to_cpu(osd)
        rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state(device) if cuda else None}
        torch.save(rng, tmp / f"rng-rank{rank:05d}.pt")
        if rank == 0:
            hf_model.save_pretrained(tmp, state_dict=msd, safe_serialization=True)
            torch.save(osd, tmp / "optimizer.pt")
            state = {"step": step_done, "next_position": next_pos, "epoch": next_pos // n,
                     "sample_in_epoch": next_pos % n, "elapsed_s": elapsed, "tokens_seen": tokens_seen,
                     "world_size": world, "plan": plan, "warmup_steps": warmup_steps,
                     "hparams": {k: getattr(args, k) for k in DEFAULTS}, "data": str(data.dir),
                     "time": time.time()}
            (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")
        del msd, osd
        barrier()
        final = None
        if rank == 0:
            final = ckpt.finalize(ckpt_root, tmp, step_done)
            ckpt.prune(ckpt_root, args.keep)
        barrier()
        return final or ckpt_root / ckpt.step_dir_name(step_done)

    # ---- training loop
    def micro_batches(positions: list[int]):
        mine = positions[rank::world]
        n_micro = math.ceil(math.ceil(len(positions) / world) / args.micro_batch)
        batches = []
        for m in range(n_micro):
            chunk = mine[m * args.micro_batch : (m + 1) * args.micro_batch]
            dummy = not chunk  # keeps collectives in step on ranks with nothing left; weight 0
            seq_ids = [order.sample(p) for p in (chunk or positions[:1])]
            toks, masks = [], []
            for s in seq_ids:
                t, mk = data.sequence(s)
                if args.max_seq_len and len(t) > args.max_seq_len:
                    t, mk = t[: args.max_seq_len], mk[: args.max_seq_len]
                mx = int(t.max()) if len(t) else 0
                if mx >= vocab or (len(t) and int(t.min()) < 0):
                    raise Fail(EXIT_DATA, f"{data.describe(s)}: token id {mx if mx >= vocab else int(t.min())} "
                               f"outside the model's vocabulary [0, {vocab})")
                toks.append(t)
                masks.append(mk)
            width = max(len(t) for t in toks)
            ids = np.full((len(toks), width), data.eos_id if data.eos_id < vocab else 0, np.int64)
            labels = np.full((len(toks), width), -100, np.int64)
            for i, (t, mk) in enumerate(zip(toks, masks)):
                ids[i, : len(t)] = t
                tgt = np.where(mk[1:] == 1, t[1:], -100)  # label of position j is token j+1 if its mask is 1
                labels[i, : len(t) - 1] = tgt
            if dummy:
                labels[:] = -100
            batches.append((torch.from_numpy(ids), torch.from_numpy(labels), 0 if dummy else int(ids.size)))
        return batches

    def sync_ctx(is_last: bool):
        if not distributed or is_last:
            return nullcontext()
        if args.fsdp:
            train_model.set_requires_gradient_sync(False)
            return nullcontext()
        return train_model.no_sync()

    run_steps = 0
    t_run = time.time()
    last_loss = None
    tok_s_hist = []
    exit_code, reason = EXIT_OK, "completed"
    last_saved = None
    while step < total_steps:
        t0 = time.time()
        first, last = pos, min(pos + args.global_batch, total_samples) - 1
        positions = list(range(first, last + 1))
        batches = micro_batches(positions)
        local_tokens = sum(b[2] for b in batches)
        counts = torch.tensor([float(sum(int((b[1] != -100).sum()) for b in batches)), float(local_tokens)],
                              dtype=torch.float64, device=device)
        all_reduce(counts)
        loss_tokens, step_tokens = int(counts[0].item()), int(counts[1].item())
        denom = max(1, loss_tokens)
        lr = lr_at(step, total_steps, args.lr, warmup_steps, args.min_lr_ratio)
        for g in optimizer.param_groups:
            g["lr"] = lr
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        for i, (ids, labels, _) in enumerate(batches):
            is_last = i == len(batches) - 1
            if distributed and args.fsdp and is_last:
                train_model.set_requires_gradient_sync(True)
            ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with sync_ctx(is_last):
                with torch.autocast("cuda", dtype=torch.bfloat16) if (autocast_bf16 and cuda) else (
                        torch.autocast("cpu", dtype=torch.bfloat16) if autocast_bf16 else nullcontext()):
                    logits = train_model(input_ids=ids, use_cache=False).logits
                ls = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1),
                                     ignore_index=-100, reduction="sum")
                (ls * (world / denom)).backward()
            loss_sum += ls.detach().double()
            del logits, ls
        if args.grad_clip > 0:
            gnorm = torch.nn.utils.clip_grad_norm_(hf_model.parameters(), args.grad_clip)
        else:
            gnorm = torch.nn.utils.clip_grad_norm_(hf_model.parameters(), float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        all_reduce(loss_sum)
        loss = float(loss_sum.item()) / denom
        gnorm = float(gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm)
        if not math.isfinite(loss):
            raise Fail(EXIT_NONFINITE, f"step {step + 1}: loss is {loss} (samples {first}..{last}); lower --lr?")
        step += 1
        run_steps += 1
        pos = last + 1
        tokens_seen += step_tokens
        if cuda:
            torch.cuda.synchronize()
        dt = time.time() - t0
        elapsed = elapsed_prev + (time.time() - t_run)
        tok_s = step_tokens / dt if dt > 0 else 0.0
        tok_s_hist.append(tok_s)
        last_loss = loss
        rec = {"event": "step", "step": step, "epoch": first // n, "first_sample": first, "last_sample": last,
               "samples": len(positions), "loss": loss, "lr": lr, "grad_norm": gnorm, "tokens": step_tokens,
               "loss_tokens": loss_tokens, "tokens_per_s": tok_s, "step_s": dt, "elapsed_s": elapsed,
               "time": time.time()}
        if cuda:
            rec["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        emit(rec)
        if step % args.print_every == 0 or step == total_steps:
            log(f"step {step}/{total_steps} loss {loss:.4f} lr {lr:.3g} tokens/s {tok_s:,.0f} "
                f"samples {first}..{last}", rank)

        # stop request: any rank's signal, or the simulated preemption
        by_file = bool(args.stop_file) and os.path.exists(args.stop_file)
        flag = torch.tensor([1.0 if stop.signal else 0.0, 1.0 if by_file else 0.0], device=device)
        all_reduce(flag, "max")
        knob = bool(args.stop_after_steps) and run_steps >= args.stop_after_steps
        if step < total_steps and (flag.max().item() > 0 or knob):
            reason = (stop.signal or ("signal on another rank" if flag[0].item() > 0 else None)
                      or ("stop-file" if flag[1].item() > 0 else "stop-after-steps"))
            t_s = time.time()
            path = save(step, pos, elapsed)
            log(f"stopped ({reason}) after step {step}: checkpoint {path} ({time.time() - t_s:.1f}s); "
                f"exit {EXIT_REQUEUE} for requeue", rank)
            emit({"event": "stopped", "reason": reason, "step": step, "next_position": pos, "checkpoint": str(path),
                  "exit_code": EXIT_REQUEUE, "time": time.time()})
            exit_code = EXIT_REQUEUE
            if rank == 0 and flag[1].item() > 0:
                try:
                    os.remove(args.stop_file)
                except OSError:
                    pass
            break
        if args.save_every and step % args.save_every == 0 and step < total_steps:
            last_saved = save(step, pos, elapsed)
    else:
        t_s = time.time()
        if run_steps == 0 and resumed_from:
            path = Path(resumed_from)  # resumed from the final checkpoint: nothing left to do
        elif last_saved and last_saved.name == ckpt.step_dir_name(step):
            path = last_saved
        else:
            path = save(step, pos, elapsed_prev + (time.time() - t_run))
        save_s = time.time() - t_s
        summary = {"event": "summary", "status": "completed", "steps": step, "samples": pos, "epochs": pos / n,
                   "tokens": tokens_seen, "final_loss": last_loss, "elapsed_s": elapsed_prev + (time.time() - t_run),
                   "run_steps": run_steps, "mean_tokens_per_s": float(np.mean(tok_s_hist)) if tok_s_hist else None,
                   "checkpoint": str(path), "checkpoint_save_s": save_s, "params": n_params,
                   "embedding_params": n_embed, "startup_s": t_run - t_start, "time": time.time()}
        if cuda:
            summary["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        emit(summary)
        log(f"done: {step} steps, final loss {last_loss}, checkpoint {path}", rank)
    if mfile:
        mfile.close()
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return exit_code, reason, step


if __name__ == "__main__":
    sys.exit(main())
