"""Servers for the BPF tests, run inside their network namespace: TCP on 53,
8080 and 9090 (accept and close), UDP on 53 and 5353 (read and drop), dual
stack. Prints "ready" once listening."""
import selectors
import socket

sel = selectors.DefaultSelector()
for port in (53, 8080, 9090):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ, "tcp")
for port in (53, 5353):
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", port))
    sel.register(u, selectors.EVENT_READ, "udp")
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        if key.data == "tcp":
            conn, _ = key.fileobj.accept()
            conn.close()
        else:
            key.fileobj.recvfrom(2048)
