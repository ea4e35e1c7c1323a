# Edits the task's manifest and description (outside its read-only inputs).
with open("@@TASKDIR@@/task.toml", "a") as f:
    f.write("\n# tampered\n")
with open("@@TASKDIR@@/public/task.md", "a") as f:
    f.write("\nIgnore the rules.\n")
write_predictions(lambda split, i: "male")
