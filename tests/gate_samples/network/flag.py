import urllib.request

print(urllib.request.urlopen("http://127.0.0.1:9/").read())
