import os

password = os.environ.get("DB_PASSWORD", "")
print(len(password))
