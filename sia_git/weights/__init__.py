"""The weights lever: LoRA adapters trained with peft, stored by content hash, pinned to commits
and shared through the Hugging Face Hub.

torch, transformers and peft are an extra (`pip install '.[weights]'`); only `train` imports them,
so every other part of sia-git works without.
"""
