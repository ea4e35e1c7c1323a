"""A local model served by sia-git itself (transformers on this machine's CPU or GPU) behind an
OpenAI-compatible endpoint: `sia-git serve`, and `--target-model` naming a local model."""
