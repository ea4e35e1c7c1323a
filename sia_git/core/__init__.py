"""The foundations every other package builds on: errors, the extension registries, plugins,
the environment of child processes, temporary files. Nothing here imports another sia-git
package."""
