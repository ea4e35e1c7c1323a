# Buries its real trace under decoy trace files, within the quotas.
note('{"event": "the real trace"}')
(WORK / "aaa").mkdir()
for i in range(3000):
    with open(WORK / "aaa" / f"trace-{i:05d}.jsonl", "w") as f:
        f.write("{}\n" * 200)
predict()
