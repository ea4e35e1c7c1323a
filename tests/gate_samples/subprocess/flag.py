import os

os.system("cat /etc/passwd")
