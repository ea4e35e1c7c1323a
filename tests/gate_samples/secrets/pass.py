LABELS = ["positive", "negative"]
