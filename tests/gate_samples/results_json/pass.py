import json

json.dump({"predictions": []}, open("predictions.json", "w"))
