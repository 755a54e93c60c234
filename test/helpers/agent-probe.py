"""A sample agent for the `airlock run` suites. argv[1] is a JSON list of
operations; each result is printed as one JSON line as soon as it is known
({"op": ..., "result": "ok" | errno name | value}), so a run killed midway
still shows what came before. Ends with {"done": true}."""
import errno
import json
import os
import socket
import subprocess
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def run(op):
    kind = op["op"]
    if kind == "read":
        with open(op["path"], "rb") as f:
            return f.read().decode(errors="replace").strip()
    if kind == "write":
        with open(op["path"], "w") as f:
            f.write(op.get("text", "written by the agent"))
        return "ok"
    if kind == "list":
        return sorted(os.listdir(op["path"]))
    if kind == "spawn":
        return subprocess.run(op["argv"], capture_output=True, text=True, check=True).stdout.strip()
    if kind == "tcp":
        with socket.socket(family(op["host"]), socket.SOCK_STREAM) as s:
            s.settimeout(op.get("timeout", 3))
            s.connect((op["host"], op["port"]))
            return s.recv(64).decode() if op.get("recv") else "ok"
    if kind == "udp":
        with socket.socket(family(op["host"]), socket.SOCK_DGRAM) as s:
            s.sendto(b"airlock", (op["host"], op["port"]))
            if op.get("recv"):
                s.settimeout(3)
                return s.recvfrom(512)[0].decode()
        return "ok"
    if kind == "raw":
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
        return "ok"
    if kind == "sleep":
        time.sleep(op["seconds"])
        return "ok"
    if kind == "alloc":
        hog = []
        for _ in range(op["mib"]):
            hog.append(bytearray(1 << 20))
        return "ok"
    raise ValueError(kind)


for op in json.loads(sys.argv[1]):
    try:
        result = run(op)
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "timeout"
    except subprocess.CalledProcessError as e:
        result = f"exit {e.returncode}"
    print(json.dumps({"op": op["op"], "result": result}), flush=True)
print(json.dumps({"done": True}), flush=True)
