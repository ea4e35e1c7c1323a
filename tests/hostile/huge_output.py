# Fills the disk through its working dir (bounded at 2 GiB of writes).
chunk = b"x" * (16 * 1024 * 1024)
with open(args.working_dir / "huge.bin", "wb") as f:
    for _ in range(128):
        f.write(chunk)
raise SystemExit("wrote 2 GiB unhindered")
