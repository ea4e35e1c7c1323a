import os
import sys

wd = sys.argv[sys.argv.index("--working_dir") + 1]
with open(os.path.join(wd, "out.txt"), "w") as f:
    f.write("/".join(["a", "b"]))
