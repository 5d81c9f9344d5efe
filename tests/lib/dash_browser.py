"""dash_browser: the dashboard and the build page in headless Chromium.

Usage: dash_browser.py AGENT_URL BUILD_ID MESSAGE AUTHOR
1. GET / from the agent: the build is listed with its state, link, escaped
   commit message and author; nothing in the message runs; the inline style
   applies under the agent's Content-Security-Policy.
2. GET /builds/ID from the agent: the page's inline script runs under that CSP.
3. The same page (as the agent serves it, CSP header included) from a double
   that streams the log: the <pre> shows the first chunk while the stream is
   still open, then the rest, then the state read back as JSON.
Exits non-zero with a message on the first failed check.
"""
import http.server
import json
import os
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def fetch(url, accept):
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read(), dict(r.headers)


class Double(http.server.ThreadingHTTPServer):
    """Serves the agent's build page, its JSON and a log stream it controls."""
    daemon_threads = True

    def __init__(self, build_id, page, csp):
        super().__init__(("127.0.0.1", 0), Handler)
        self.build_id = build_id
        self.page = page
        self.csp = csp
        self.state = "queued"
        self.release = threading.Event()
        self.stream_open = threading.Event()
        self.requests = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, ctype, body, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        s = self.server
        accept = self.headers.get("Accept", "")
        s.requests.append((self.path, accept))
        base = f"/builds/{s.build_id}"
        if self.path == base and "text/html" in accept:
            self.send(200, "text/html; charset=utf-8", s.page, {"Content-Security-Policy": s.csp})
        elif self.path == base:
            b = {"id": s.build_id, "repo": "web", "ref": "refs/heads/master", "state": s.state,
                 "sha": "199eddf46df50de8d02e99bf1c5fdb4101338224", "created": "2026-01-02T03:04:05Z"}
            if s.state == "succeeded":
                b.update(started="2026-01-02T03:04:06Z", finished="2026-01-02T03:05:07Z",
                         duration_ms=61000, image="web:master", image_id="sha256:" + "ab" * 32)
            self.send(200, "application/json", json.dumps(b).encode())
        elif self.path == base + "/log?follow=1":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk(b"step 1: fetching\n")
            s.stream_open.set()
            s.release.wait(120)
            s.state = "succeeded"
            self.chunk(b"step 2: assembling \x1b[1mbold\x1b[0m <b>not html</b>\n")
            self.chunk(b"step 3: committed\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        else:
            self.send(404, "text/plain", b"not found\n")


def main():
    agent, build_id, message, author = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    b = cdp.Browser()
    try:
        # 1. the dashboard, from the agent
        b.goto(agent + "/")
        check(b.eval("document.title") == "s2i-agent builds", "dashboard title")
        link = f'a[href="builds/{build_id}"]'
        check(b.eval(f"!!document.querySelector('{link}')"), f"no link to build {build_id} on the dashboard")
        check(b.eval(f"document.querySelector('{link}').textContent") == f"#{build_id}", "link text")
        row = f"document.querySelector('{link}').closest('tr')"
        check("queued" in b.eval(f"{row}.querySelector('.st').textContent"), "state word in the row")
        check(b.eval(f"{row}.querySelector('.msg span').title") == message, "full message in the title attribute")
        first = message.split("\n")[0]
        shown = b.eval(f"{row}.querySelector('.msg span').textContent")
        check(shown.startswith(first[:90]), f"message shown as text: {shown!r}")
        check(b.eval(f"{row}.textContent").find(author) >= 0, "author in the row")
        check(b.eval("document.querySelectorAll('script, img, svg, iframe').length") == 0,
              "markup from the commit message made it into the DOM")
        check(b.eval("typeof window.__pwned") == "undefined", "a script from the commit message ran")
        check(b.eval("getComputedStyle(document.querySelector('.st')).borderTopStyle") == "solid",
              "the inline stylesheet did not apply (CSP hash?)")

        # 2. the build page, from the agent: its script runs under the agent's CSP
        b.goto(f"{agent}/builds/{build_id}")
        check(f"Build #{build_id}" in b.eval("document.querySelector('h1').textContent"), "build page heading")
        b.wait("document.getElementById('live').textContent.length > 0")
        check(b.eval("getComputedStyle(document.getElementById('log')).whiteSpace") == "pre-wrap",
              "build page stylesheet did not apply")

        # 3. live log through the double, with the agent's own page and CSP
        page, headers = fetch(f"{agent}/builds/{build_id}", "text/html")
        csp = headers.get("Content-Security-Policy", "")
        check("script-src 'sha256-" in csp, f"the agent sent no hash-based CSP: {csp!r}")
        d = Double(build_id, page, csp)
        threading.Thread(target=d.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{d.server_address[1]}/builds/{build_id}"
        try:
            b.goto(url)
            b.wait("document.getElementById('log').textContent.includes('step 1: fetching')")
            check(d.stream_open.is_set() and not d.release.is_set(), "the stream should still be open")
            check("queued" in b.eval("document.getElementById('state').textContent"), "state before the end")
            check("live" in b.eval("document.getElementById('live').textContent"), "live status while streaming")
            check("step 2" not in b.eval("document.getElementById('log').textContent"), "log ahead of the stream")
            d.release.set()
            b.wait("document.getElementById('state').textContent.includes('succeeded')")
            log = b.eval("document.getElementById('log').textContent")
            check("step 3: committed" in log, f"end of the log missing: {log!r}")
            check("\x1b" not in log and "step 2: assembling bold <b>not html</b>" in log,
                  f"escape codes or markup mishandled: {log!r}")
            check(b.eval("document.querySelectorAll('#log *').length") == 0, "log text became markup")
            check(b.eval("document.getElementById('state').className") == "st st-succeeded", "state class")
            check(b.eval("document.getElementById('image').textContent") == "web:master", "image after the end")
            check(b.eval("document.getElementById('duration').textContent") == "1m 01s", "duration after the end")
            check(b.eval("document.title").startswith("succeeded"), "title after the end")
            b.wait("document.getElementById('live').textContent === 'build succeeded'")
            paths = [p for p, _ in d.requests]
            check(f"/builds/{build_id}/log?follow=1" in paths, f"no follow request: {paths}")
            check(any(p == f"/builds/{build_id}" and "application/json" in a and "text/html" not in a
                      for p, a in d.requests), f"no JSON read-back of the state: {d.requests}")
        finally:
            d.release.set()
            d.shutdown()
        errors = [c for c in b.console if "exception" in c or "Content Security Policy" in c]
        check(not errors, f"console: {errors}")
    except Exception:
        print("console:", b.console, file=sys.stderr)
        raise
    finally:
        b.close()
    print("dashboard and live build page: ok")


if __name__ == "__main__":
    main()
