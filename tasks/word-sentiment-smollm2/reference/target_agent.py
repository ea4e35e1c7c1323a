"""Reference agent for word-sentiment-smollm2: asks the run's model about each word through the
standard `openai` SDK and parses its answer. The model is SmolLM2-135M-Instruct, a small chat
model: the wording of the prompt, the examples shown and how its reply is read all matter.

Contract: python target_agent.py --dataset_dir DIR --working_dir DIR
Writes predictions/dev.csv and predictions/test.csv (id,label) and trace.jsonl to the working
dir. The model is served inside the sandbox: the SDK finds it through OPENAI_BASE_URL.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openai import OpenAI

# The knobs sia-git's offline search tunes. KNOB_SPACE lists each knob's allowed values: a list
# for a choice, or {"low", "high", "type": "int"|"float", "log"} for a range. `template` is also
# the prompt the weights lever trains the model on ({text} is the word).
# One knob per line, a blank line between: git merges changes to different knobs.
KNOBS = {
    "template": "Is the word \"{text}\" positive or negative?",

    "system": "none",

    "shots": 0,

    "parse": "contains",

    "fallback": "negative",

    "votes": 1,

    "temperature": 0.0,

    "max_tokens": 8,
}  # fmt: skip
KNOB_SPACE = {
    "template": [
        'Is the word "{text}" positive or negative?',
        "Word: {text}\nSentiment (positive or negative):",
        'Classify the sentiment of the word "{text}". Answer with one word: positive or negative.',
        'Does the word "{text}" describe something good or bad? Answer good or bad.',
    ],
    "system": ["none", "classifier", "terse"],
    "shots": {"low": 0, "high": 8, "type": "int"},
    "parse": ["contains", "first", "last"],
    "fallback": ["negative", "positive"],
    "votes": [1, 3, 5],
    "temperature": {"low": 0.0, "high": 1.0, "type": "float"},
    "max_tokens": {"low": 2, "high": 16, "type": "int"},
}

SYSTEMS = {
    "none": None,
    "classifier": "You are a sentiment classifier. "
    "Reply with exactly one word: positive or negative.",
    "terse": "Answer in one word.",
}
WORDS = {"positive": "positive", "negative": "negative", "good": "positive", "bad": "negative"}
WORKERS = 16  # requests in flight at once: the server answers them as one batch


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def shots(train: list[dict[str, str]], n: int, seed: int) -> list[dict[str, str]]:
    """`n` training examples, alternating labels, chosen by `seed`."""
    rng = random.Random(seed)
    by_label = {lab: [r for r in train if r["label"] == lab] for lab in ("positive", "negative")}
    out = []
    for i in range(n):
        out.append(rng.choice(by_label["positive" if i % 2 == 0 else "negative"]))
    return out


def label_word(label: str) -> str:
    """How an example's label is written in the template's own terms (good/bad or not)."""
    if "good or bad" in KNOBS["template"]:
        return "good" if label == "positive" else "bad"
    return label


def messages(word: str, examples: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    system = SYSTEMS[KNOBS["system"]]
    if system:
        out.append({"role": "system", "content": system})
    for ex in examples:
        out.append({"role": "user", "content": KNOBS["template"].replace("{text}", ex["text"])})
        out.append({"role": "assistant", "content": label_word(ex["label"])})
    out.append({"role": "user", "content": KNOBS["template"].replace("{text}", word)})
    return out


def parse(reply: str) -> str | None:
    found = [WORDS[w] for w in re.findall(r"[a-z]+", reply.lower()) if w in WORDS]
    if not found:
        return None
    if KNOBS["parse"] == "first":
        return found[0]
    if KNOBS["parse"] == "last":
        return found[-1]
    return found[0] if len(set(found)) == 1 else None  # "contains": only an unambiguous reply


def classify(client: OpenAI, word: str, examples: list[dict[str, str]]) -> dict:
    votes, replies = [], []
    for _ in range(KNOBS["votes"]):
        reply = client.chat.completions.create(
            model="target",
            messages=messages(word, examples),
            max_tokens=KNOBS["max_tokens"],
            temperature=KNOBS["temperature"]
            if KNOBS["votes"] == 1
            else max(KNOBS["temperature"], 0.7),
        )
        text = reply.choices[0].message.content or ""
        replies.append(text)
        label = parse(text)
        if label:
            votes.append(label)
    label = Counter(votes).most_common(1)[0][0] if votes else KNOBS["fallback"]
    return {"label": label, "replies": replies, "parsed": bool(votes)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    client = OpenAI(max_retries=2, timeout=600)
    train = read(args.dataset_dir / "train.csv")
    examples = shots(train, KNOBS["shots"], seed=0)
    (args.working_dir / "predictions").mkdir(parents=True, exist_ok=True)
    with (args.working_dir / "trace.jsonl").open("w", encoding="utf-8") as trace:
        for split in ("dev", "test"):
            rows = read(args.dataset_dir / f"{split}.csv")
            started = time.monotonic()
            with ThreadPoolExecutor(WORKERS) as pool:
                results = list(pool.map(lambda r: classify(client, r["text"], examples), rows))
            with (args.working_dir / "predictions" / f"{split}.csv").open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", "label"])
                w.writerows((r["id"], res["label"]) for r, res in zip(rows, results, strict=True))
            unparsed = sum(not res["parsed"] for res in results)
            summary = {
                "split": split,
                "items": len(rows),
                "unparsed": unparsed,
                "seconds": round(time.monotonic() - started, 1),
            }
            trace.write(json.dumps(summary) + "\n")
            if split == "dev":  # what the model said, for whoever improves this agent next
                for r, res in list(zip(rows, results, strict=True))[:40]:
                    trace.write(
                        json.dumps(
                            {"word": r["text"], "replies": res["replies"], "label": res["label"]}
                        )
                        + "\n"
                    )
            print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
