"""The target-model gateway: the only way a sandboxed target agent can reach a model."""
