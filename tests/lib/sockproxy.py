#!/usr/bin/env python3
"""sockproxy.py: a unix-socket forwarder that stands in for a container engine which
can be stopped and started again, without touching the real one (fault-engine.sh),
or, with tcp: addresses, a TCP link that can be cut (fleet-chaos.sh: an agent's
connection to PostgreSQL).

    sockproxy.py LISTEN TARGET [--ready FILE] [--freeze-on REGEX [--frozen FILE] [--disarmed]]
                 [--delay-on REGEX=SECONDS]... [--delay-reply-on REGEX=SECONDS]...
                 [--delayed FILE]

LISTEN and TARGET are unix socket paths, or tcp:HOST:PORT (LISTEN's HOST must be
127.0.0.1: nothing here listens beyond the machine).

Listens on LISTEN and forwards every connection byte for byte, in
both directions (plain HTTP requests and hijacked attach streams alike), to TARGET
(e.g. /var/run/docker.sock). FILE, if given, is written once it listens.

--freeze-on: the first request whose bytes match REGEX (a Python regex on the raw
request, e.g. '^POST /v[0-9.]+/containers/[0-9a-f]+/start') freezes the engine as
its clients see it (fault-engine-freeze.sh): that request and everything after it, on
every connection, new ones too, is held (connects still succeed: an engine that
accepts and never answers); --frozen FILE is written then. SIGUSR1 thaws it: what
was held is forwarded and the proxy forwards again (the freeze happens once).
--disarmed: REGEX is looked for only after SIGUSR2 (--frozen FILE + ".armed" is
written then), so that requests made before do not freeze it.

--delay-on REGEX=SECONDS (repeatable): each request whose bytes match REGEX goes on to
TARGET SECONDS later, whether or not its client is still there: an engine busy with
it that long (fault-engine-commit.sh: a commit in flight when the build is canceled).
--delay-reply-on REGEX=SECONDS (repeatable): the first request whose bytes match REGEX
goes on at once, but the answer on its connection reaches the client SECONDS later (if
it is still there): an engine that did the work at once and answers late
(fault-engine-commit-kill.sh: a commit that moved the tag, its build killed before
the answer came). Once each; with --disarmed, only after SIGUSR2.
--delayed FILE gets a line per request delayed, its first line.

SIGTERM and SIGINT stop it the way a stopped engine looks to its clients: the socket
file is removed (new connects fail with ENOENT) and every live connection is cut at
once. SIGKILL leaves the socket file behind (connects fail with ECONNREFUSED) and the
kernel cuts the connections. Starting it again on the same LISTEN replaces a stale
socket file.
"""
import argparse
import os
import re
import signal
import socket
import sys
import threading
import time

conns = set()
conns_lock = threading.Lock()
flowing = threading.Event()     # cleared while frozen
flowing.set()
freeze = {"re": None, "fired": False, "file": None, "armed": True}
freeze_lock = threading.Lock()
delays = []             # (compiled REGEX, seconds) of --delay-on
reply_delays = []       # [compiled REGEX, seconds, fired] of --delay-reply-on
reply = {"armed": True}
delayed = {"file": None}
delayed_lock = threading.Lock()


def maybe_freeze(data):
    """The first request matching --freeze-on stops the flow (once)."""
    if freeze["re"] is None:
        return
    with freeze_lock:
        if freeze["fired"] or not freeze["armed"] or not freeze["re"].search(data):
            return
        freeze["fired"] = True
        flowing.clear()
    if freeze["file"]:
        with open(freeze["file"] + ".tmp", "w") as f:
            f.write("frozen\n")
        os.rename(freeze["file"] + ".tmp", freeze["file"])


def note_delayed(data):
    if delayed["file"]:
        with delayed_lock, open(delayed["file"], "a") as f:
            f.write(data.split(b"\r\n", 1)[0].decode("latin-1") + "\n")


def maybe_delay(data, conn):
    """A request matching --delay-on waits its seconds here (before it is forwarded);
    one matching --delay-reply-on sets conn["reply_delay"] for the answer's pump."""
    fired = False
    with delayed_lock:
        for d in reply_delays:
            if reply["armed"] and not d[2] and d[0].search(data):
                d[2] = fired = True
                conn["reply_delay"] = d[1]
                break
    if fired:
        note_delayed(data)
    for rx, secs in delays:
        if rx.search(data):
            note_delayed(data)
            time.sleep(secs)
            return


def cut(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def pump(src, dst, conn, requests=False):
    """src -> dst until src ends; then half-close dst (the attach protocol needs it).
    requests: src is the client (its bytes may trigger the freeze and delays); else
    an answer waits conn["reply_delay"] seconds first, when a request set it."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if requests:
                maybe_freeze(data)
                maybe_delay(data, conn)
            elif conn.get("reply_delay"):
                time.sleep(conn.pop("reply_delay"))
            flowing.wait()
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        cut(src)
        cut(dst)


def address(spec):
    """(family, address) of a unix socket path or tcp:HOST:PORT."""
    if spec.startswith("tcp:"):
        host, _, port = spec[4:].rpartition(":")
        return socket.AF_INET, (host, int(port))
    return socket.AF_UNIX, spec


def serve(client, target):
    family, addr = address(target)
    upstream = socket.socket(family, socket.SOCK_STREAM)
    try:
        upstream.connect(addr)
    except OSError:
        client.close()
        upstream.close()
        return
    with conns_lock:
        conns.update((client, upstream))
    conn = {}
    t = threading.Thread(target=pump, args=(upstream, client, conn), daemon=True)
    t.start()
    pump(client, upstream, conn, requests=True)
    t.join()
    with conns_lock:
        conns.discard(client)
        conns.discard(upstream)
    client.close()
    upstream.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen")
    ap.add_argument("target")
    ap.add_argument("--ready")
    ap.add_argument("--freeze-on")
    ap.add_argument("--frozen")
    ap.add_argument("--disarmed", action="store_true")
    ap.add_argument("--delay-on", action="append", default=[])
    ap.add_argument("--delay-reply-on", action="append", default=[])
    ap.add_argument("--delayed")
    a = ap.parse_args()
    for d in a.delay_on:
        rx, secs = d.rsplit("=", 1)
        delays.append((re.compile(rx.encode(), re.MULTILINE), float(secs)))
    for d in a.delay_reply_on:
        rx, secs = d.rsplit("=", 1)
        reply_delays.append([re.compile(rx.encode(), re.MULTILINE), float(secs), False])
    reply["armed"] = not a.disarmed
    delayed["file"] = a.delayed
    if a.freeze_on:
        freeze["re"] = re.compile(a.freeze_on.encode(), re.MULTILINE)
        freeze["file"] = a.frozen
        freeze["armed"] = not a.disarmed

    def arm(signum, frame):
        with freeze_lock:
            freeze["armed"] = True
        reply["armed"] = True
        if freeze["file"]:
            with open(freeze["file"] + ".armed", "w") as f:
                f.write("armed\n")

    family, listen = address(a.listen)
    if family == socket.AF_UNIX:
        try:
            os.unlink(listen)
        except FileNotFoundError:
            pass
    elif listen[0] != "127.0.0.1":
        sys.exit("sockproxy: listens on 127.0.0.1 only, not '%s'" % listen[0])
    srv = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(listen)
    srv.listen(128)

    def stop(signum, frame):
        # the socket file first: no new client may get in while the others are cut
        if family == socket.AF_UNIX:
            try:
                os.unlink(listen)
            except OSError:
                pass
        srv.close()
        with conns_lock:
            for s in list(conns):
                cut(s)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, lambda signum, frame: flowing.set())
    signal.signal(signal.SIGUSR2, arm)
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.ready + ".tmp", a.ready)
    # a signal that lands on another thread, or just before accept() blocks, is only
    # handled once the main thread runs again: wake it up now and then
    srv.settimeout(0.5)
    while True:
        try:
            client, _ = srv.accept()
        except OSError:     # socket.timeout included
            continue
        client.settimeout(None)
        threading.Thread(target=serve, args=(client, a.target), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
