# Fills the working dir past its byte quota (files under the per-file size limit).
chunk = b"y" * (4 << 20)
for i in range(400):
    with open(WORK / f"blob-{i}", "wb") as f:
        for _ in range(8):
            f.write(chunk)
predict()
