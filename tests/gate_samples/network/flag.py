import socket

conn = socket.create_connection(("127.0.0.1", 9))
print(conn.recv(10))
