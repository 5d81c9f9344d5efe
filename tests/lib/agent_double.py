#!/usr/bin/env python3
"""agent_double: a stand-in for the s2i-agent daemon's intake and build API, for
testing the `notify` client and the git hooks without the real pipeline.

Usage: agent_double.py --port-file FILE --log FILE --dir DIR [--script FILE]

Every request is recorded as a JSON line in --log: {"seq", "time", "method",
"path", "headers" (lower-case names), "body" (text), "body_file" (the exact bytes,
saved as DIR/body-SEQ), "answer" (code), and for hooks "sha_visible"}.

The script (JSON, re-read at every request so a test can change it) steers answers:
  "hooks": [ITEM, ...]     answers for the next POST /hooks/* in order, consumed
                           (a changed list starts over at its first item)
                           (ITEM: {"code": N, "body": {...}, "headers": {...}});
                           when empty: 202 {"build": next id, "url": ...}
  "ignore_refs": {REF: REASON}   200 {"ignored": REASON} for that ref
  "builds": {"ID": {"state": "succeeded", "reason": "...", "log": ["line\\n", ...],
                    "running_polls": N}}   GET /builds/ID answers "running" N times first
  "check_repo": PATH       on each hook, record whether the event's "after" commit
                           is readable in that git repository ("sha_visible")
GET /builds/ID/log?follow=1 streams the build's log lines (chunked), then ends.
"""
import argparse
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_LOG = ["---> Installing application source ...\n", "---> Building application ...\n",
               "build done\n"]


class State:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.seq = 0
        self.next_build = 0
        self.consumed = 0
        self.hooks_key = None
        self.polls = {}

    def script(self):
        try:
            with open(self.a.script) as f:
                return json.load(f)
        except (OSError, ValueError, TypeError):
            return {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self, raw, code, extra=None):
        st = self.server.state
        with st.lock:
            st.seq += 1
            seq = st.seq
            bf = os.path.join(st.a.dir, "body-%d" % seq)
            with open(bf, "wb") as f:
                f.write(raw)
            e = {"seq": seq, "time": time.time(), "method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": raw.decode("utf-8", "replace"), "body_file": bf, "answer": code}
            e.update(extra or {})
            with open(st.a.log, "a") as f:
                f.write(json.dumps(e, sort_keys=True) + "\n")

    def send(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not self.path.startswith("/hooks/"):
            self.record(raw, 404)
            self.send(404, {"error": "not found"})
            return
        sc = st.script()
        extra = {}
        try:
            ev = json.loads(raw)
        except ValueError:
            ev = {}
        if sc.get("check_repo") and isinstance(ev, dict):
            r = subprocess.run(["git", "--git-dir", sc["check_repo"], "cat-file", "-e",
                                str(ev.get("after", "")) + "^{commit}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={
                                   "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
            extra["sha_visible"] = r.returncode == 0
        with st.lock:
            hooks = sc.get("hooks", [])
            key = json.dumps(hooks, sort_keys=True)
            if key != st.hooks_key:  # a new script: start at its first answer
                st.hooks_key, st.consumed = key, 0
            item = hooks[st.consumed] if st.consumed < len(hooks) else None
            if item is not None:
                st.consumed += 1
        if item is not None:
            code = int(item.get("code", 202))
            self.record(raw, code, extra)
            self.send(code, item.get("body", {}), item.get("headers"))
            return
        ref = ev.get("ref") if isinstance(ev, dict) else None
        if ref in sc.get("ignore_refs", {}):
            self.record(raw, 200, extra)
            self.send(200, {"ignored": sc["ignore_refs"][ref]})
            return
        with st.lock:
            st.next_build += 1
            bid = st.next_build
        self.record(raw, 202, extra)
        self.send(202, {"build": bid, "url": "https://ci.example.com/builds/%d" % bid})

    def do_GET(self):
        st = self.server.state
        sc = st.script()
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "builds" and parts[1].isdigit():
            bid = parts[1]
            b = sc.get("builds", {}).get(bid, {})
            if len(parts) == 3 and parts[2] == "log":
                self.record(b"", 200)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in b.get("log", DEFAULT_LOG):
                    data = line.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                    time.sleep(0.05)
                self.wfile.write(b"0\r\n\r\n")
                return
            if len(parts) == 2:
                with st.lock:
                    polls = st.polls.get(bid, 0)
                    st.polls[bid] = polls + 1
                state = b.get("state", "succeeded")
                if polls < int(b.get("running_polls", 0)):
                    state = "running"
                self.record(b"", 200)
                self.send(200, {"id": int(bid), "state": state, "reason": b.get("reason", "")})
                return
        self.record(b"", 404)
        self.send(404, {"error": "not found"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--script", default="/nonexistent")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(a)
    open(a.log, "a").close()
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
