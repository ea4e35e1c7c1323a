"""LoRA training for text generation, rewarded by the task's own evaluator (objective `grpo`,
formerly named `generation`, which still means it).

Each step samples `group_size` answers per training prompt from the current model, scores them
with the task's evaluator on those training items (an answer's reward is 1 when the evaluator
calls it `correct`, else 0), and follows the policy gradient of each answer's log-probability
weighted by its advantage over its group's mean (group-relative, as GRPO; no KL term: LoRA's
small rank and few steps keep the model near its base). Training prompts show the harness's own
few-shot examples (`shots`) and chat format, so the adapter learns on prompts shaped like the
ones it is served. A group whose answers all score the
same teaches nothing and is skipped. An answer is the completion's first line, stripped.
"""

from __future__ import annotations

import csv
import json
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.core import childenv
from sia_git.tasks.model_spec import HParams
from sia_git.weights.job import Job

CORRECT = ("correct", "pass", "ok")


def read_rows(job: Job) -> list[dict[str, str]]:
    with open(job.train_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for col in (job.id_column, job.text_column, job.label_column):
        if rows and col not in rows[0]:
            raise ValueError(f"{job.train_csv} has no column '{col}'")
    if not rows:
        raise ValueError(f"{job.train_csv} has no rows")
    return rows


class Rewarder:
    """The task's evaluator on training items: their labels (public in train.csv) are its
    answer key, the sampled answers its predictions."""

    def __init__(self, job: Job, rows: list[dict[str, str]], scratch: Path) -> None:
        if not job.evaluator:
            raise ValueError("the generation objective needs the task's evaluator")
        self.job, self.scratch = job, scratch
        answers = scratch / "answers"
        answers.mkdir(parents=True, exist_ok=True)
        with (answers / "train.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", job.label_column])
            w.writerows([r[job.id_column], r[job.label_column]] for r in rows)

    def __call__(self, ids: list[str], answers: list[str]) -> list[float]:
        preds = self.scratch / "predictions"
        (preds / "predictions").mkdir(parents=True, exist_ok=True)
        with (preds / "predictions" / "train.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", self.job.label_column])
            w.writerows(zip(ids, answers, strict=True))
        out = self.scratch / "result.json"
        fill = {
            "{predictions}": str(preds),
            "{answers}": str(self.scratch / "answers"),
            "{split}": "train",
            "{output}": str(out),
        }
        argv = [fill.get(a, a) for a in self.job.evaluator or []]
        subprocess.run(argv, check=True, capture_output=True, timeout=600, env=childenv.scrubbed())
        status = {i["id"]: i.get("status") for i in json.loads(out.read_text())["items"]}
        return [1.0 if status.get(i) in CORRECT else 0.0 for i in ids]


def answer_of(reply: str, pattern: str | None) -> str:
    """The answer a sampled reply gives: the pattern's first match (lower-cased), else the
    reply's first line."""
    if pattern is not None:
        m = re.search(pattern, reply)
        if m is None:
            return ""
        return (m.group(1) if m.groups() else m.group(0)).strip().lower()
    return reply.strip().splitlines()[0].strip() if reply.strip() else ""


class GenerationTrainer:
    def __init__(self, job: Job) -> None:
        import torch
        from peft import LoraConfig, PeftModel, TaskType, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        hp = HParams.model_validate(job.hparams)
        torch.manual_seed(hp.seed)
        self.job, self.hp = job, hp
        extra = {"gguf_file": job.gguf_file} if job.gguf_file else {}
        self.tokenizer = AutoTokenizer.from_pretrained(job.base, **extra)
        self.tokenizer.padding_side = "left"  # prompts end where the answers begin
        self.tokenizer.truncation_side = "left"  # a long prompt keeps its end (the question)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        base = AutoModelForCausalLM.from_pretrained(job.base, **extra)
        if job.init_adapter:
            self.model = PeftModel.from_pretrained(base, job.init_adapter, is_trainable=True)
        else:
            self.model = get_peft_model(
                base,
                LoraConfig(
                    task_type=TaskType.CAUSAL_LM,
                    r=hp.r,
                    lora_alpha=hp.r * hp.alpha_ratio,
                    lora_dropout=hp.dropout,
                    target_modules=job.target_modules,
                ),
            )
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=hp.lr
        )

    def prompt(self, row: dict[str, str], shown: list[dict[str, str]]) -> str:
        """What the model reads for a training row: the template filled in, after the `shown`
        labelled examples; as a chat (the way a served model gets an agent's request: each
        example a user turn and the assistant's label) or as plain text."""
        job = self.job

        def ask(r: dict[str, str]) -> str:
            return job.template.replace("{text}", r[job.text_column])

        if job.prompt_format != "chat" or not getattr(self.tokenizer, "chat_template", None):
            # (a model without a chat template reads the text as it is, served too)
            return "".join(f"{ask(e)} {e[job.label_column]}\n" for e in shown) + ask(row)
        turns = []
        for e in shown:
            turns += [{"role": "user", "content": ask(e)},
                      {"role": "assistant", "content": e[job.label_column]}]  # fmt: skip
        turns.append({"role": "user", "content": ask(row)})
        return str(
            self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
        )

    def draw(self, prompts: list[str]) -> tuple[Any, int, Any, Any, list[str]]:
        """`group_size` sampled replies to each prompt (a prompt's replies adjacent): the
        prompts' encoding, its width, their cache, the sequences and the replies' texts."""
        import torch

        k = self.hp.group_size
        enc = self.tokenizer(
            prompts,
            padding=True,
            truncation=True,
            max_length=self.job.max_length,
            return_tensors="pt",
            # a chat prompt holds its special tokens already
            add_special_tokens=self.job.prompt_format != "chat",
        ).to(self.device)
        width = enc["input_ids"].shape[1]
        self.model.eval()
        with torch.no_grad():
            # The prompts once (not once per sample), as a cache the samples and then the
            # training pass both start from.
            cache = self._prefix(enc["input_ids"], enc["attention_mask"])
            cache.batch_repeat_interleave(k)
            seqs = self._sample(
                enc["input_ids"].repeat_interleave(k, 0),
                enc["attention_mask"].repeat_interleave(k, 0),
                cache,
            )
        texts = self.tokenizer.batch_decode(seqs[:, width:], skip_special_tokens=True)
        return enc, width, cache, seqs, texts

    def step(self, prompts: list[str], ids: list[str], reward: Rewarder) -> dict[str, float]:
        import torch

        k = self.hp.group_size
        enc, width, cache, seqs, texts = self.draw(prompts)
        answers = [answer_of(t, self.job.answer_pattern) for t in texts]
        rewards = torch.zeros(len(prompts), k)
        for j in range(k):
            rewards[:, j] = torch.tensor(reward(ids, answers[j::k]))
        adv = (rewards - rewards.mean(1, keepdim=True)).flatten().to(self.device)
        mean_reward = float(rewards.mean())
        if not bool(adv.abs().gt(0).any()) and not self.hp.entropy:
            return {"loss": 0.0, "reward": mean_reward}
        self.model.train()
        mask = self._answer_mask(seqs, width)
        attention = torch.cat([enc["attention_mask"].repeat_interleave(k, 0), mask], dim=1)
        extra = cache.get_seq_length() - (width - 1)
        if extra > 0:
            cache.crop(-extra)  # back to the prompts alone
        logits = self._answer_logits(seqs, attention, width, cache=cache)
        logprobs = torch.log_softmax(logits.float(), -1)
        logp = logprobs.gather(-1, seqs[:, width:].unsqueeze(-1)).squeeze(-1)
        per_answer = (logp * mask).sum(1) / mask.sum(1).clamp(min=1)
        loss = -(adv * per_answer).mean()
        if self.hp.entropy:
            # A bonus for uncertainty on answer tokens: a model that says one thing to every
            # prompt samples no other answer, and its groups (all right or all wrong) teach
            # nothing; the bonus keeps other answers in its samples.
            ent = -(logprobs.exp() * logprobs).sum(-1)
            loss = loss - self.hp.entropy * (ent * mask).sum() / mask.sum().clamp(min=1)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"loss": float(loss.detach()), "reward": mean_reward}

    def _prefix(self, ids: Any, mask: Any) -> Any:
        """The key/value cache of every prompt token but the last (no gradient: the LoRA
        weights' effect on the prompt is not trained through; they learn from every answer
        position). A step then costs one forward pass of the prompts, and a backward pass of
        the answers alone: few-shot prompts are long, answers a few tokens."""
        from transformers import DynamicCache

        cache = DynamicCache()
        if ids.shape[1] > 1:
            self.model(
                input_ids=ids[:, :-1],
                attention_mask=mask[:, :-1],
                position_ids=positions(mask)[:, :-1],
                past_key_values=cache,
                use_cache=True,
            )
        return cache

    def _sample(self, ids: Any, mask: Any, cache: Any) -> Any:
        """`ids` followed by up to `max_new_tokens` sampled tokens each (after an end of
        sequence, padding), generated from `cache` (the prompts but their last token)."""
        import torch

        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        cur, pos, attn = ids[:, -1:], positions(mask)[:, -1:], mask
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        made = []
        for _ in range(self.job.max_new_tokens):
            logits = self.model(
                input_ids=cur,
                attention_mask=attn,
                position_ids=pos,
                past_key_values=cache,
                use_cache=True,
            ).logits[:, -1]
            probs = torch.softmax(logits.float() / self.hp.temperature, -1)
            token = torch.multinomial(probs, 1).squeeze(1)
            token = torch.where(done, torch.full_like(token, pad), token)
            made.append(token)
            done = done | (token == eos)
            if bool(done.all()):
                break
            cur, pos = token.unsqueeze(1), pos + 1
            attn = torch.cat([attn, torch.ones_like(cur)], dim=1)
        return torch.cat([ids, torch.stack(made, dim=1)], dim=1)

    def _answer_logits(self, seqs: Any, attention: Any, width: int, *, cache: Any) -> Any:
        """The logits that predict each answer token, with gradient, from the prompts' cache."""
        out = self.model(
            input_ids=seqs[:, width - 1 :],
            attention_mask=attention,
            position_ids=positions(attention)[:, width - 1 :],
            past_key_values=cache,
            use_cache=True,
        )
        return out.logits[:, :-1]

    def _answer_mask(self, seqs: Any, width: int) -> Any:
        """1 for each generated token up to and including the first end-of-sequence."""
        import torch

        gen = seqs[:, width:]
        eos = self.tokenizer.eos_token_id
        ended = torch.cumsum((gen == eos).int(), dim=1)
        return ((ended == 0) | ((ended == 1) & (gen == eos))).long()


def positions(mask: Any) -> Any:
    """Each token's position from the attention mask (prompts are padded on the left)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def examples(rows: list[dict[str, str]], i: int, job: Job) -> list[dict[str, str]]:
    """`job.shots` other training rows shown before row `i`, as the harness shows its few-shot
    examples: chosen by the row's index (the same every epoch), labels taken in turn."""
    if job.shots <= 0:
        return []
    rng = random.Random(i)
    by_label: dict[str, list[dict[str, str]]] = {}
    for j, r in enumerate(rows):
        if j != i:
            by_label.setdefault(r[job.label_column], []).append(r)
    labels = sorted(by_label)
    return [rng.choice(by_label[labels[k % len(labels)]]) for k in range(job.shots)]


@dataclass(frozen=True)
class Prepared:
    """What every generative objective starts from: the training rows, the trainer, each
    row's prompt as the harness shapes it, and its item id."""

    rows: list[dict[str, str]]
    trainer: GenerationTrainer
    prompts: list[str]
    ids: list[str]


def prepare(job: Job) -> Prepared:
    rows = read_rows(job)
    trainer = GenerationTrainer(job)
    prompts = [trainer.prompt(r, examples(rows, i, job)) for i, r in enumerate(rows)]
    return Prepared(rows, trainer, prompts, [r[job.id_column] for r in rows])
