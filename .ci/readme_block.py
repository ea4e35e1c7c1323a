"""Print README.md's Nth ```bash block (0: set up and run a built-in task; 1: run the tests), so
that .ci/run runs README's commands as written and the two cannot drift apart."""

import re
import sys
from pathlib import Path

text = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8")
blocks = re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
print(blocks[int(sys.argv[1])].strip())
