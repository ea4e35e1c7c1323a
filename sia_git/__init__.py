"""sia-git: make an agent improve itself, one reviewable git commit per generation."""

__version__ = "0.1.0"
