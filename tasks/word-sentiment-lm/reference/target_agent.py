"""Reference agent for word-sentiment-lm: a small language model, two ways.

Without an adapter: the frozen encoder embeds every word (mean or CLS pooling) and a logistic
regression, fitted here on train.csv, labels them. With an adapter (SIA_ADAPTER_DIR, written by a
weights generation): the LoRA-tuned encoder and its classification head label them directly.

Contract: python target_agent.py --dataset_dir DIR --working_dir DIR
Writes predictions/dev.csv and predictions/test.csv (id,label) and trace.jsonl to the working dir.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

# The knobs sia-git's offline search tunes. `template` also formats the training examples of a
# weights generation, so adapter and harness see words the same way.
# One knob per line, a blank line between: git merges changes to different knobs.
KNOBS = {
    "template": "{text}",

    "pooling": "mean",

    "normalize": True,

    "scale": 10.0,

    "l2": 0.001,
}  # fmt: skip
KNOB_SPACE = {
    "template": ["{text}", "{text}.", "the word {text}", "I feel {text}."],
    "pooling": ["mean", "cls"],
    "normalize": [False, True],
    "scale": {"low": 1.0, "high": 50.0, "type": "float", "log": True},
    "l2": {"low": 1e-05, "high": 0.1, "type": "float", "log": True},
}
BATCH = 128


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def texts_of(rows: list[dict[str, str]]) -> list[str]:
    return [KNOBS["template"].replace("{text}", r["text"]) for r in rows]


class FrozenEncoder:
    """Embeddings from the base model, unchanged, and a logistic regression on top."""

    def __init__(self, model_dir: str, device: str) -> None:
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).to(device).eval()
        self.device = device

    @torch.no_grad()
    def embed(self, texts: list[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), BATCH):
            enc = self.tok(
                texts[i : i + BATCH],
                padding=True,
                truncation=True,
                max_length=32,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(**enc).last_hidden_state
            if KNOBS["pooling"] == "cls":
                e = hidden[:, 0]
            else:
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                e = (hidden * mask).sum(1) / mask.sum(1)
            if KNOBS["normalize"]:
                e = torch.nn.functional.normalize(e, dim=-1)
            out.append(e.cpu())
        return torch.cat(out)

    def fit_predict(
        self, train: list[dict[str, str]], splits: dict[str, list[dict[str, str]]]
    ) -> dict[str, list[str]]:
        labels = sorted({r["label"] for r in train})
        x = self.embed(texts_of(train)) * KNOBS["scale"]
        y = torch.tensor([labels.index(r["label"]) for r in train])
        w = torch.zeros(x.shape[1], len(labels), requires_grad=True)
        b = torch.zeros(len(labels), requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200)

        def loss() -> torch.Tensor:
            opt.zero_grad()
            value = torch.nn.functional.cross_entropy(x @ w + b, y) + KNOBS["l2"] * (w**2).sum()
            value.backward()
            return value

        opt.step(loss)
        out = {}
        with torch.no_grad():
            for name, rows in splits.items():
                logits = self.embed(texts_of(rows)) * KNOBS["scale"] @ w + b
                out[name] = [labels[i] for i in logits.argmax(1).tolist()]
        return out


class TunedClassifier:
    """The base model with the run's LoRA adapter and its trained classification head."""

    def __init__(self, model_dir: str, adapter_dir: str, device: str) -> None:
        from peft import PeftModel

        meta = json.loads((Path(adapter_dir) / "sia_adapter.json").read_text())
        self.labels = meta["labels"]
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        base = AutoModelForSequenceClassification.from_pretrained(
            model_dir, num_labels=len(self.labels)
        )
        self.model = PeftModel.from_pretrained(base, adapter_dir).to(device).eval()
        self.device = device

    @torch.no_grad()
    def predict(self, rows: list[dict[str, str]]) -> list[str]:
        texts, out = texts_of(rows), []
        for i in range(0, len(texts), BATCH):
            enc = self.tok(
                texts[i : i + BATCH],
                padding=True,
                truncation=True,
                max_length=32,
                return_tensors="pt",
            ).to(self.device)
            out += [self.labels[j] for j in self.model(**enc).logits.argmax(1).tolist()]
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    start = time.time()
    torch.manual_seed(int(os.environ.get("SIA_SEED", "0")))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_dir = os.environ["SIA_MODEL_DIR"]
    adapter_dir = os.environ.get("SIA_ADAPTER_DIR")
    train = read(args.dataset_dir / "train.csv")
    splits = {name: read(args.dataset_dir / f"{name}.csv") for name in ("dev", "test")}
    if adapter_dir:
        tuned = TunedClassifier(model_dir, adapter_dir, device)
        preds = {name: tuned.predict(rows) for name, rows in splits.items()}
        train_pred = tuned.predict(train)
    else:
        preds = FrozenEncoder(model_dir, device).fit_predict(train, {**splits, "train": train})
        train_pred = preds.pop("train")
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows([r["id"], p] for r, p in zip(rows, preds[name], strict=True))
    train_acc = sum(p == r["label"] for p, r in zip(train_pred, train, strict=True)) / len(train)
    with (args.working_dir / "trace.jsonl").open("w", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "event": "fit",
                    "mode": "adapter" if adapter_dir else "frozen",
                    "knobs": KNOBS,
                    "device": device,
                    "train_rows": len(train),
                    "train_accuracy": round(train_acc, 4),
                    "seconds": round(time.time() - start, 3),
                }
            )
            + "\n"
        )
    print(f"train accuracy {train_acc:.4f} ({'adapter' if adapter_dir else 'frozen'}) with {KNOBS}")


if __name__ == "__main__":
    main()
