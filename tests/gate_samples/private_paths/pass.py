prompt = "Answer with one word: positive or negative."
print(prompt, "private sector", "gold medal")
