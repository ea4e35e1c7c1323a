"""Built-in trusted evaluators. Each is a standalone script (no sia_git imports) so that
`sia-git init` can copy it into a new task as a starting point."""
