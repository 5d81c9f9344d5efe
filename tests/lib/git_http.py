#!/usr/bin/env python3
"""Smart HTTP git server for tests: `git http-backend` behind HTTP Basic auth whose
password must equal a token (as GitHub/GitLab/Gitea accept access tokens).
Listens on 127.0.0.1, a free port written to --port-file; logs one line per request."""
import argparse
import base64
import http.server
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="GIT_PROJECT_ROOT")
    ap.add_argument("--token-file", help="required password; none: anonymous access")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    token = open(a.token_file).read().strip() if a.token_file else None
    log = open(a.log, "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def deny(self, user):
            log.write("%s %s 401 user=%s\n" % (self.command, self.path, user))
            # no body: libgit2 1.5 can misread a 401 body that arrives in a separate
            # segment as the start of the next response
            msg = b""
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", str(len(msg)))
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(msg)

        def handle_any(self):
            data = self.body()
            user = ""
            if token is not None:
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Basic "):
                    return self.deny("-")
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                if pw != token:
                    return self.deny(user)
            path, _, query = self.path.partition("?")
            env = dict(os.environ)
            env.update({
                "GIT_PROJECT_ROOT": a.root, "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path, "QUERY_STRING": query,
                "REQUEST_METHOD": self.command, "REMOTE_USER": user or "anonymous",
                "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(data)),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            })
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            p = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True)
            head, _, out = p.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.split(b"\r\n"):
                k, _, v = line.decode().partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                elif k:
                    headers.append((k, v.strip()))
            log.write("%s %s %d user=%s\n" % (self.command, self.path, status, user))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = handle_any
        do_POST = handle_any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
