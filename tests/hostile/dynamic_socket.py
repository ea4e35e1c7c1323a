# Imports socket by a computed name (so the gates cannot see it) and phones home.
import builtins

mod = getattr(builtins, "__imp" + "ort__")("soc" + "ket")
with mod.create_connection(("127.0.0.1", @@PORT@@), timeout=3) as s:
    s.sendall(b"hello from inside the sandbox")
write_predictions(lambda split, i: "male")
