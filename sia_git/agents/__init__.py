"""The model-driven agents: the Meta-Agent (generation 1) and the Feedback-Agent (later ones)."""
