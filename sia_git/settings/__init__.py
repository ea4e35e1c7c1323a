"""The settings of a run: declared once (model.py, with fields.py), loaded from files, a run's
record and flags (load.py), and offered as command-line options (options.py)."""

from __future__ import annotations

from sia_git.settings.load import load
from sia_git.settings.model import EvolveConfig

__all__ = ["EvolveConfig", "load"]
