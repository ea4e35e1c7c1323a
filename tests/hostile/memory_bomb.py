# Allocates until something stops it.
blocks = []
while True:
    blocks.append(bytearray(64 * 1024 * 1024))
