import os
import random

random.seed(int(os.environ.get("SIA_SEED", "0")))
# A provider's key variable: the sandbox sets it to a dummy key.
key = os.environ["TINKER_API_KEY"]
