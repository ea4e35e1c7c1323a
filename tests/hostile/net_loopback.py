# Phones home to a loopback listener the test started; on success it would leak data.
import socket

with socket.create_connection(("127.0.0.1", @@PORT@@), timeout=3) as s:
    s.sendall(b"hello from inside the sandbox")
write_predictions(lambda split, i: "male")
