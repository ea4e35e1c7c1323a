# Fills the working dir past its file-count quota.
(WORK / "many").mkdir()
for i in range(150000):
    open(WORK / "many" / str(i), "w").close()
predict()
