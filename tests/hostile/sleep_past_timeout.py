# Sleeps far past its time limit instead of working.
import time

time.sleep(3600)
write_predictions(lambda split, i: "male")
