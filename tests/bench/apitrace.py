#!/usr/bin/env python3
"""apitrace.py: where a build's time goes, per Engine API call. A unix-socket forwarder
between a client (s2i-agent -U, or s2i with DOCKER_HOST) and the engine that notes, for
every HTTP request, when it started, when the last byte of its answer went back (the
next request on the connection, or its end, closes it) and how many bytes went each way.

    apitrace.py LISTEN TARGET OUT      (runs until SIGTERM; then writes OUT)

OUT: one line per request, in start order: start offset (s), duration (s), bytes sent,
bytes received, METHOD and path (ids and the API version shortened)."""
import re
import signal
import socket
import sys
import threading
import time

REQ = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")
t0 = None
records = []
lock = threading.Lock()


def short(path):
    p = path.decode("latin-1")
    p = re.sub(r"^/v[0-9.]+", "", p)
    p = re.sub(r"[0-9a-f]{64}", "ID", p)
    p = re.sub(r"\?.*", lambda m: "?" + ",".join(sorted(k.split("=")[0] for k in m.group(0)[1:].split("&"))), p)
    return p


class Conn:
    def __init__(self):
        self.cur = None

    def request(self, line):
        now = time.monotonic()
        with lock:
            global t0
            if t0 is None:
                t0 = now
            self.cur = {"start": now, "end": now, "what": line, "up": 0, "down": 0}
            records.append(self.cur)


def pump(src, dst, conn, upstream):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if upstream:
                m = REQ.match(data)
                if m:
                    conn.request(m.group(1).decode() + " " + short(m.group(2)))
                if conn.cur:
                    conn.cur["up"] += len(data)
            elif conn.cur:
                conn.cur["down"] += len(data)
                conn.cur["end"] = time.monotonic()
            dst.sendall(data)
    except OSError:
        pass
    finally:
        # pass the end on in this direction only: a client that half-closes an attach
        # stream (s2i ends its stdin so) still reads the container's output back
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(listen, target):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        e = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        e.connect(target)
        conn = Conn()
        threading.Thread(target=pump, args=(c, e, conn, True), daemon=True).start()
        threading.Thread(target=pump, args=(e, c, conn, False), daemon=True).start()


def main():
    listen, target, out = sys.argv[1:4]

    def stop(*_):
        with lock, open(out, "w") as f:
            for r in sorted(records, key=lambda r: r["start"]):
                f.write("%7.3f %7.3f %10d %10d %s\n" % (r["start"] - t0, r["end"] - r["start"],
                                                          r["up"], r["down"], r["what"]))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    serve(listen, target)


if __name__ == "__main__":
    main()
