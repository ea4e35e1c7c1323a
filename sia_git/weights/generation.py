"""LoRA training for text generation, rewarded by the task's own evaluator.

Each step samples `group_size` answers per training prompt from the current model, scores them
with the task's evaluator on those training items (an answer's reward is 1 when the evaluator
calls it `correct`, else 0), and follows the policy gradient of each answer's log-probability
weighted by its advantage over its group's mean (group-relative, as GRPO; no KL term: LoRA's
small rank and few steps keep the model near its base). A group whose answers all score the
same teaches nothing and is skipped. An answer is the completion's first line, stripped.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from sia_git import childenv
from sia_git.weights.hparams import HParams
from sia_git.weights.job import Job, Progress, record_of, run_epochs, save_adapter

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

    def prompt(self, text: str) -> str:
        """What the model reads: the text itself, or the text as a chat user message (as a
        served model gets an agent's request)."""
        if self.job.prompt_format != "chat" or not getattr(self.tokenizer, "chat_template", None):
            return text  # (a model without a chat template reads the text as it is, served too)
        return str(
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
            )
        )

    def step(self, prompts: list[str], ids: list[str], reward: Rewarder) -> dict[str, float]:
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
            seqs = self.model.generate(
                input_ids=enc["input_ids"].repeat_interleave(k, 0),
                attention_mask=enc["attention_mask"].repeat_interleave(k, 0),
                do_sample=True,
                temperature=self.hp.temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=self.job.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        texts = self.tokenizer.batch_decode(seqs[:, width:], skip_special_tokens=True)
        answers = [answer_of(t, self.job.answer_pattern) for t in texts]
        rewards = torch.zeros(len(prompts), k)
        for j in range(k):
            rewards[:, j] = torch.tensor(reward(ids, answers[j::k]))
        adv = (rewards - rewards.mean(1, keepdim=True)).flatten().to(self.device)
        mean_reward = float(rewards.mean())
        if not bool(adv.abs().gt(0).any()):
            return {"loss": 0.0, "reward": mean_reward}
        self.model.train()
        mask = self._answer_mask(seqs, width)
        attention = torch.cat([enc["attention_mask"].repeat_interleave(k, 0), mask], dim=1)
        # Logits of the answer positions only: a large vocabulary over whole prompts would not
        # fit a CPU's memory (64 sequences x 50k tokens x 4 bytes per position).
        keep = seqs.shape[1] - width + 1
        out = self.model(input_ids=seqs, attention_mask=attention, logits_to_keep=keep)
        logits = out.logits[:, :-1]
        logp = (
            torch.log_softmax(logits.float(), -1)
            .gather(-1, seqs[:, width:].unsqueeze(-1))
            .squeeze(-1)
        )
        per_answer = (logp * mask).sum(1) / mask.sum(1).clamp(min=1)
        loss = -(adv * per_answer).mean()
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"loss": float(loss.detach()), "reward": mean_reward}

    def _answer_mask(self, seqs: Any, width: int) -> Any:
        """1 for each generated token up to and including the first end-of-sequence."""
        import torch

        gen = seqs[:, width:]
        eos = self.tokenizer.eos_token_id
        ended = torch.cumsum((gen == eos).int(), dim=1)
        return ((ended == 0) | ((ended == 1) & (gen == eos))).long()


def train_generation(job: Job, progress: Progress) -> dict[str, Any]:
    rows = read_rows(job)
    trainer = GenerationTrainer(job)
    reward = Rewarder(job, rows, Path(job.out_dir).parent / "reward")
    prompts = [trainer.prompt(job.template.replace("{text}", r[job.text_column])) for r in rows]
    ids = [r[job.id_column] for r in rows]

    def step(idx: list[int]) -> dict[str, float]:
        return trainer.step([prompts[j] for j in idx], [ids[j] for j in idx], reward)

    loop = run_epochs(job, trainer.hp, len(rows), step, progress)
    record = record_of(
        job,
        trainer.hp,
        len(rows),
        loop,
        trainer.device,
        epoch_rewards=[e.get("reward") for e in loop.epochs],
        max_new_tokens=job.max_new_tokens,
    )
    save_adapter(trainer.model, job, Path(job.out_dir), record)
    return record
