import os
import random

random.seed(int(os.environ.get("SIA_SEED", "0")))
