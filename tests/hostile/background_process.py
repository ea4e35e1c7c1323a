# Leaves a detached process running after it exits (it would outlive the run).
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "@@TOKEN@@"])
    os._exit(0)
write_predictions(lambda split, i: "male")
