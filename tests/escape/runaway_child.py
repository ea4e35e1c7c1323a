# A grandchild that leaves the process group and the session, tries to leave the cgroup, and
# sleeps on after the agent exits.
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for procs in ("/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs",
                      "/sys/fs/cgroup/memory/cgroup.procs"):
            try:
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass
        os.execv("/bin/sleep", ["sleep", "@@MARK@@"])
    os._exit(0)
time.sleep(0.5)
predict()
