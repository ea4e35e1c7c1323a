import os

key = os.environ.get("OPENAI_API_KEY", "")
print(len(key))
