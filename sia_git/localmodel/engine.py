"""A small language model served from this process with transformers: chat requests that arrive
together are generated as one batch (a CPU answers 16 short prompts in about the time of 3 one
by one), each request may name a LoRA adapter, each streams its text as it is generated, and a
request whose caller has gone is dropped from its batch at the next token, not finished.

One worker thread owns the model: torch runs one batch at a time, and adapters are switched
only between batches (a batch holds one adapter's requests).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GATHER_S = 0.02  # how long the first request of a batch waits for company


class ContextTooLong(ValueError):
    """The prompt and the reply asked for do not fit the model's context."""


@dataclass
class Request:
    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float = 0.0
    adapter: str | None = None  # a name given to `Engine.add_adapter`
    on_text: Callable[[str], None] | None = None  # each new piece of the reply, as made
    matcher: Any = None  # a grammar the reply must follow (`Engine.matcher`), or None
    cancelled: threading.Event = field(default_factory=threading.Event)
    # Filled in by the worker:
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def key(self) -> tuple[str | None, float]:
        return self.adapter, self.temperature


@dataclass
class Stats:
    requests: int = 0
    batches: int = 0
    largest_batch: int = 0
    cancelled: int = 0  # requests dropped because their caller went away
    finished_abandoned: int = 0  # requests generated to the end after their caller went away
    generated_tokens: int = 0


class Engine:
    """`Engine(folder, gguf_file)`; `submit(request)` then `request.done.wait()`."""

    def __init__(
        self,
        folder: Path,
        gguf_file: str | None = None,
        max_batch: int = 16,
        *,
        threads: int | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        started = time.monotonic()
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), **extra)
        self.tokenizer.padding_side = "left"  # every prompt ends where its reply begins
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model: Any = AutoModelForCausalLM.from_pretrained(str(folder), **extra)
        self.model.eval()
        self.context = int(getattr(self.model.config, "max_position_embeddings", 0) or 2048)
        self.max_batch = max_batch
        self.stats = Stats()
        self.load_s = time.monotonic() - started
        self._adapters: dict[str, Path] = {}
        self._loaded: set[str] = set()
        self._queue: queue.Queue[Request] = queue.Queue()
        self._held: list[Request] = []  # taken from the queue, waiting for their adapter's turn
        self._say = say or (lambda _line: None)
        self._grammars: Any = None  # built on the first structured request
        self._grammars_lock = threading.Lock()
        self._worker = threading.Thread(target=self._serve, name="sia-local-model", daemon=True)
        self._worker.start()

    def add_adapter(self, name: str, folder: Path) -> None:
        """Let requests name `name`; its weights load when first asked for."""
        self._adapters[name] = folder

    def has_adapter(self, name: str) -> bool:
        return name in self._adapters

    def prompt_text(self, messages: list[dict[str, Any]]) -> str:
        """The messages as the model reads them: its chat template, or (a model without one)
        their contents, one per line."""
        plain = _plain(messages)
        if not getattr(self.tokenizer, "chat_template", None):
            return "\n".join(m["content"] for m in plain)
        return str(
            self.tokenizer.apply_chat_template(plain, add_generation_prompt=True, tokenize=False)
        )

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        return list(
            self.tokenizer(self.prompt_text(messages), add_special_tokens=False)["input_ids"]
        )

    def matcher(self, grammar: str) -> Any:
        """A fresh matcher for one reply that must follow `grammar` (from
        `constrain.grammar_of`); ValueError if the grammar is unusable."""
        from sia_git.localmodel.constrain import Grammars

        with self._grammars_lock:
            if self._grammars is None:
                self._grammars = Grammars(self.tokenizer)
        return self._grammars.start(grammar)

    def submit(self, request: Request) -> Request:
        """Queue `request` (checked against the context first); its `done` is set when served."""
        ids = self.prompt_ids(request.messages)
        if len(ids) + request.max_tokens > self.context:
            raise ContextTooLong(
                f"This model's maximum context length is {self.context} tokens. However, you "
                f"requested {len(ids) + request.max_tokens} tokens ({len(ids)} in the messages, "
                f"{request.max_tokens} in the completion)."
            )
        if request.adapter is not None and request.adapter not in self._adapters:
            raise KeyError(f"no adapter named {request.adapter!r}")
        request.prompt_tokens = len(ids)
        self._queue.put(request)
        return request

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._generate(batch)
            except Exception as exc:  # one bad batch fails its requests, not the server
                for r in batch:
                    r.error = exc
            for r in batch:
                r.done.set()

    def _next_batch(self) -> list[Request]:
        first = self._held.pop(0) if self._held else self._queue.get()
        time.sleep(GATHER_S)
        while True:
            try:
                self._held.append(self._queue.get_nowait())
            except queue.Empty:
                break
        batch = [first] + [r for r in self._held if r.key() == first.key()]
        batch = batch[: self.max_batch]
        self._held = [r for r in self._held if r not in batch]
        return [r for r in batch if not self._dropped(r)]

    def _dropped(self, r: Request) -> bool:
        if r.cancelled.is_set():
            self.stats.cancelled += 1
            r.finish_reason = "cancelled"
            r.done.set()
            return True
        return False

    def _generate(self, batch: list[Request]) -> None:
        import torch

        if not batch:
            return
        model = self._model_for(batch[0].adapter)
        texts = [self.prompt_text(r.messages) for r in batch]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        width = enc["input_ids"].shape[1]
        watch = _Watch(self, batch, width)
        sampled = batch[0].temperature > 0
        options: dict[str, Any] = {"do_sample": sampled}
        if sampled:
            options |= {"temperature": batch[0].temperature, "top_k": 0, "top_p": 1.0}
        if any(r.matcher is not None for r in batch):
            from transformers import LogitsProcessorList

            from sia_git.localmodel.constrain import Masker

            eos = int(self.tokenizer.eos_token_id)
            masker = Masker([r.matcher for r in batch], width, eos)
            options["logits_processor"] = LogitsProcessorList([masker])
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        with torch.no_grad(), _adapter_off(model, batch[0].adapter):
            seqs = model.generate(
                **enc,
                max_new_tokens=max(r.max_tokens for r in batch),
                pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=[watch],
                **options,
            )
        watch.finish(seqs)

    def _model_for(self, adapter: str | None) -> Any:
        if adapter is None:
            return self.model
        from peft import PeftModel

        if adapter not in self._loaded:
            self._say(f"loading adapter {adapter}")
            folder = str(self._adapters[adapter])
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(folder, adapter_name=adapter)
            else:
                self.model = PeftModel.from_pretrained(self.model, folder, adapter_name=adapter)
            self.model.eval()
            self._loaded.add(adapter)
        self.model.set_adapter(adapter)
        return self.model


class _Watch:
    """A stopping criterion that transformers calls after every token: it streams each row's
    new text, stops a row at its own max_tokens, drops a row whose caller has gone, and hands
    each row's answer to its caller as soon as that row ends (the rest of the batch goes on)."""

    def __init__(self, engine: Engine, batch: list[Request], width: int) -> None:
        self.engine, self.batch, self.width = engine, batch, width
        self.sent = [""] * len(batch)
        self.ended = [False] * len(batch)
        self.completed = [False] * len(batch)

    def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for i, r in enumerate(self.batch):
            if self.ended[i]:
                done[i] = True
                continue
            ids = self._reply_ids(input_ids[i])
            if r.cancelled.is_set():
                self.ended[i], done[i], r.finish_reason = True, True, "cancelled"
                r.completion_tokens = len(ids)  # made (and streamed) before the caller left
                self.engine.stats.cancelled += 1
                self.engine.stats.generated_tokens += len(ids)
                continue
            self._stream(i, ids)
            if len(ids) >= r.max_tokens or self._hit_eos(input_ids[i]):
                self.ended[i], done[i] = True, True
                self._complete(i, ids)  # its caller has its answer now, not with the batch's last
        return done

    def _reply_ids(self, row: Any) -> list[int]:
        eos = self.engine.tokenizer.eos_token_id
        ids = [int(t) for t in row[self.width :]]
        return ids[: ids.index(eos)] if eos in ids else ids

    def _hit_eos(self, row: Any) -> bool:
        return int(row[-1]) == self.engine.tokenizer.eos_token_id

    def _stream(self, i: int, ids: list[int]) -> None:
        r = self.batch[i]
        if r.on_text is None:
            return
        text = self.engine.tokenizer.decode(ids, skip_special_tokens=True)
        if len(text) > len(self.sent[i]) and not text.endswith("\ufffd"):
            try:
                r.on_text(text[len(self.sent[i]) :])
            except OSError:  # the caller's connection closed: drop the row at the next token
                r.cancelled.set()
            self.sent[i] = text

    def _complete(self, i: int, ids: list[int]) -> None:
        r = self.batch[i]
        ids = ids[: r.max_tokens]
        r.text = self.engine.tokenizer.decode(ids, skip_special_tokens=True)
        r.completion_tokens = len(ids)
        r.finish_reason = "length" if len(ids) >= r.max_tokens else "stop"
        self._stream(i, ids)
        self.engine.stats.generated_tokens += len(ids)
        if r.cancelled.is_set():
            self.engine.stats.finished_abandoned += 1
        self.completed[i] = True
        r.done.set()

    def finish(self, seqs: Any) -> None:
        """The rows generate() ended without this criterion ending them (its own limit)."""
        for i, r in enumerate(self.batch):
            if r.finish_reason == "cancelled" or self.completed[i]:
                continue
            self._complete(i, self._reply_ids(seqs[i]))


def _plain(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat messages as the template takes them: text content only (parts joined)."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(
                str(p.get("text", "")) for p in content if isinstance(p, dict)
            )  # OpenAI's content parts
        out.append({"role": str(m.get("role") or "user"), "content": str(content or "")})
    return out


class _adapter_off:  # noqa: N801 (used as a context manager)
    """Generate with the base weights when no adapter is named but some are loaded."""

    def __init__(self, model: Any, adapter: str | None) -> None:
        self.ctx = (
            model.disable_adapter() if adapter is None and hasattr(model, "peft_config") else None
        )

    def __enter__(self) -> None:
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.ctx is not None:
            self.ctx.__exit__(*exc)
