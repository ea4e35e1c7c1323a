name = "sock" + "et"
mod = __import__(name)
