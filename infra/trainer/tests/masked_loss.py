"""Recompute a trainer step's loss by hand, from the initial random weights (step 1 only).

Only tokens whose mask is 1 count, and the label of position j is token j+1 (so the mask of the
target token decides). Prints JSON: the trainer's reported loss and loss_tokens, the manual
masked loss and count, and the loss over all tokens (which must differ under an SFT mask).

    python infra/trainer/tests/masked_loss.py --data DIR --metrics FILE --model-config tiny-512 --seed 5
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def manual_first_step(data_dir, metrics_path, model_config, seed, data_seed=None):
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    import train as T
    from shards import StageData

    rec = next(json.loads(x) for x in Path(metrics_path).read_text().splitlines() if '"event": "step"' in x)
    assert rec["step"] == 1, rec
    data = StageData(data_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(T.load_model_config(model_config), attn_implementation="sdpa").float()
    order = T.Order(len(data), seed if data_seed is None else data_seed)
    total, count, unmasked, n_all = 0.0, 0, 0.0, 0
    with torch.no_grad():
        for pos in range(rec["first_sample"], rec["last_sample"] + 1):
            t, m = data.sequence(order.sample(pos))
            logits = model(input_ids=torch.from_numpy(t)[None]).logits[0].double()
            ce = F.cross_entropy(logits[:-1], torch.from_numpy(t[1:]), reduction="none")
            sel = torch.from_numpy(m[1:] == 1)
            total += float(ce[sel].sum())
            count += int(sel.sum())
            unmasked += float(ce.sum())
            n_all += len(ce)
    return {"reported_loss": rec["loss"], "reported_loss_tokens": rec["loss_tokens"], "manual_loss": total / count,
            "manual_loss_tokens": count, "all_tokens_loss": unmasked / n_all, "all_tokens": n_all}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--model-config", required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    print(json.dumps(manual_first_step(a.data, a.metrics, a.model_config, a.seed)))
