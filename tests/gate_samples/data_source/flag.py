from palmerpenguins import load_penguins

print(load_penguins().head())
