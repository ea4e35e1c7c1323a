# Plants a symlink in its working dir pointing outside, then writes through it.
import os

link = args.working_dir / "out"
os.symlink("@@OUTSIDE_DIR@@", link)
(link / "escaped.txt").write_text("escaped through a symlink")
write_predictions(lambda split, i: "male")
