import os

print(os.path.join("predictions", "dev.csv"))
