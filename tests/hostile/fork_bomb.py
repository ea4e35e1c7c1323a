# Forks until stopped (bounded at 2000 so a broken limit cannot take the machine down).
import os
import sys
import time

made = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
except OSError as exc:
    print(f"fork refused after {made}: {exc}", file=sys.stderr)
    sys.exit(3)
print(f"made {made} processes", file=sys.stderr)
time.sleep(60)
