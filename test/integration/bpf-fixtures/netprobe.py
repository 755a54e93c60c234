"""Tries each operation of argv[1] (a JSON list) and prints {"pid", "results"}:
"ok", the errno name (EPERM, ECONNREFUSED ...) or "timeout" for each."""
import errno
import json
import os
import socket
import sys
import time

TYPES = {"stream": socket.SOCK_STREAM, "dgram": socket.SOCK_DGRAM, "raw": socket.SOCK_RAW}


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def run(op):
    kind = op["op"]
    if kind == "tcp":
        with socket.socket(family(op["host"]), socket.SOCK_STREAM) as s:
            s.settimeout(op.get("timeout", 3))
            s.connect((op["host"], op["port"]))
    elif kind == "tcp-fastopen":
        # connect and send in one sendto(MSG_FASTOPEN): must be checked as a connect
        # (blocking: a timeout would make it return EINPROGRESS)
        with socket.socket(family(op["host"]), socket.SOCK_STREAM) as s:
            s.sendto(b"airlock", socket.MSG_FASTOPEN, (op["host"], op["port"]))
    elif kind == "udp":
        with socket.socket(family(op["host"]), socket.SOCK_DGRAM) as s:
            s.sendto(b"airlock", (op["host"], op["port"]))
    elif kind == "udp-connect":
        with socket.socket(family(op["host"]), socket.SOCK_DGRAM) as s:
            s.connect((op["host"], op["port"]))
            s.send(b"airlock")
    elif kind == "socket":
        fam = socket.AF_INET6 if op["family"] == 6 else socket.AF_INET
        proto = op.get("proto", 0)
        if op["type"] == "raw" and not proto:
            proto = socket.IPPROTO_ICMPV6 if op["family"] == 6 else socket.IPPROTO_ICMP
        socket.socket(fam, TYPES[op["type"]], proto).close()
    elif kind == "open":
        open(op["path"], "rb").close()
    elif kind == "sleep":
        time.sleep(op["seconds"])
    return "ok"


results = []
for op in json.loads(sys.argv[1]):
    try:
        results.append(run(op))
    except socket.timeout:
        results.append("timeout")
    except OSError as e:
        results.append(errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "timeout")
print(json.dumps({"pid": os.getpid(), "results": results}), flush=True)
