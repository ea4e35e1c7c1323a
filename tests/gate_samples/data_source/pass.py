import csv

print(csv.__name__)
