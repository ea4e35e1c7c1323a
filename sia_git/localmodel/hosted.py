"""A local target model for one run: its endpoint starts at once on 127.0.0.1, the model loads
on the first request (a run that never calls it never pays for loading), and each candidate's
gateway calls it with that candidate's LoRA adapter applied."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.localmodel.load import LocalModel, load

if TYPE_CHECKING:
    from sia_git.llm.client import ModelClient
    from sia_git.llm.profiles import ModelProfile


class HostedModel:
    def __init__(self, model: LocalModel, max_batch: int = 16) -> None:
        from sia_git.localmodel.server import LocalServer

        self.model = model
        self.max_batch = max_batch
        self.say: Callable[[str], None] = lambda _line: None  # the run's progress, once known
        self._engine: Any = None
        self._lock = threading.Lock()
        self._adapters: dict[str, Path] = {}
        self.server = LocalServer(self, model.name).start()  # `self` stands in for the engine

    # The server asks the engine through these; the first request loads the model.
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.engine, name)

    @property
    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                self._engine = load(self.model, self.max_batch, say=self.say)
                self.say(f"{self.model.name} loaded in {self._engine.load_s:.1f} s")
                for name, folder in self._adapters.items():
                    self._engine.add_adapter(name, folder)
            return self._engine

    def has_adapter(self, name: str) -> bool:
        return name in self._adapters

    def profile(self, base: ModelProfile) -> ModelProfile:
        """`base` (the profile the user named, or a bare one) pointed at this endpoint; free
        unless the profile sets prices."""
        update: dict[str, Any] = {"model": f"openai/{self.model.name}", "api_base": self.server.url}
        if base.input_cost_per_token is None and base.output_cost_per_token is None:
            update |= {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
        return base.model_copy(update=update)

    def client_for(
        self, client: ModelClient, adapter: str | None, folder: Path | None
    ) -> ModelClient:
        """The run's target client, calling this model with `adapter` (stored at `folder`)."""
        if adapter is None or folder is None:
            return client
        with self._lock:
            self._adapters[adapter] = folder
            if self._engine is not None:
                self._engine.add_adapter(adapter, folder)
        model = f"openai/{self.model.name}@{adapter}"
        return dataclasses.replace(
            client, profile=client.profile.model_copy(update={"model": model})
        )

    def close(self) -> None:
        self.server.close()
