# Writes a file outside its working dir, and tries to deface its own inputs.
with open("@@OUTSIDE@@", "w") as f:
    f.write("escaped")
with open(args.dataset_dir / "train.csv", "a") as f:
    f.write("tampered\n")
write_predictions(lambda split, i: "male")
