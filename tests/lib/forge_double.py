#!/usr/bin/env python3
"""forge_double: a stand-in for the commit status APIs of GitHub, GitLab and Gitea.

It answers POSTs of commit statuses as those forges document them (201 with a
body shaped like theirs, 401 without the right token, 422/400 with the forge's
validation errors), answers 5xx, 429 + Retry-After, rate limits or hangs when
told to, and records every request as a JSON line so tests can assert the
exact sequence, headers and bodies.

Usage: forge_double.py --port-file FILE --log FILE [--port N] [--token T] [--hang-max S]
  Binds 127.0.0.1 (port 0: any free port) and writes the port to --port-file.

Routes (API base = http://127.0.0.1:PORT, plus the prefix):
  GitHub  POST            /repos/{owner}/{repo}/statuses/{sha}   (also under /api/v3)
  Gitea   POST     /api/v1/repos/{owner}/{repo}/statuses/{sha}
  GitLab  POST     /api/v4/projects/{id or url-encoded path}/statuses/{sha}
and lists what it accepted for a commit, as the forges' "list commit statuses" do:
  GitHub  GET             /repos/{owner}/{repo}/commits/{sha}/statuses   newest first
  Gitea   GET      /api/v1/repos/{owner}/{repo}/commits/{sha}/statuses   newest first
  GitLab  GET      /api/v4/projects/{id}/repository/commits/{sha}/statuses[?all=true]
                   oldest first; without all=true only the latest of each name
(the same token checks as the posts; these GETs are recorded too, method "GET").

Control (never recorded):
  POST /_control  JSON object, keys applied in this order:
    "reset": true          forget queued answers and GitLab status states
    "token": "T"           the token accepted from now on
    "fail": [ITEM, ...]    answers for the next status posts, one each, in order;
                           ITEM is a status code (500, 429, 503, ...), "hang", or
                           {"code": N, "retry_after": "2" | 2, "headers": {...},
                            "body": {...}, "ratelimit_reset": SECONDS}
                           (ratelimit_reset: x-ratelimit-remaining 0 and a reset
                           that many seconds ahead, as GitHub's 403/429)
    "retry_after": V       Retry-After for queued 429/503 items that set none
    "list_fail": [ITEM, ...]  answers for the next lists of a commit's statuses
                           (GETs with the right token), one each, in order; ITEM as
                           in "fail" (e.g. {"code": 403, "body": {...}}: a token that
                           may post statuses but not read them)
    "hang": true           queue one hang: no answer until the client goes away
                           (or --hang-max seconds)
    "hold": S              queue one held post: accepted (recorded, listed) at
                           once, but its answer sent only S seconds later, or
                           never when the client went away meanwhile
    "release": true        end the hangs in progress: their connections are closed
                           without an answer (the forge "recovers")
  GET /_requests  the recorded requests as a JSON array
  GET /_control   {"queued": [...], "token": "...", "hanging": N (posts held now),
                   "hanging_max": most posts held at once so far}

Log line (one per status post or list): {"seq", "time", "method", "path", "provider",
  "repo", "sha", "headers" (lower-case names), "body" (parsed JSON or null),
  "raw", "answer": {"code", "headers", "body"} or {"hang": true}, and "held": S
  for a held post}; "answer" has "gone": true when the client went away before the
  answer could be written (a post is recorded, and listed, all the same)
"""
import argparse
import json
import os
import re
import select
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GITHUB_DOC = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
GITHUB_STATES = ("error", "failure", "pending", "success")
GITEA_STATES = ("pending", "success", "error", "failure", "warning", "skipped")
GITLAB_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")
GITLAB_EVENTS = {"pending": "enqueue", "running": "run", "success": "succeed",
                 "failed": "drop", "canceled": "cancel", "skipped": "skip"}
GITLAB_ALLOWED = {  # from -> states a new post may move to (finished: a new status)
    "pending": ("running", "success", "failed", "canceled", "skipped"),
    "running": ("success", "failed", "canceled"),
}
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
LIST_ROUTES = [
    ("gitea", re.compile(r"^/api/v1/repos/([^/]+)/([^/]+)/commits/([^/?]+)/statuses(?:\?(.*))?$")),
    ("gitlab", re.compile(r"^/api/v4/projects/([^/]+)/repository/commits/([^/?]+)/statuses(?:\?(.*))?$")),
    ("github", re.compile(r"^(?:/api/v3)?/repos/([^/]+)/([^/]+)/commits/([^/?]+)/statuses(?:\?(.*))?$")),
]
ROUTES = [
    ("gitea", re.compile(r"^/api/v1/repos/([^/]+)/([^/]+)/statuses/([^/?]+)$")),
    ("gitlab", re.compile(r"^/api/v4/projects/([^/]+)/statuses/([^/?]+)$")),
    ("github", re.compile(r"^(?:/api/v3)?/repos/([^/]+)/([^/]+)/statuses/([^/?]+)$")),
]


class State:
    def __init__(self, log_path, token, hang_max):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.token = token
        self.hang_max = hang_max
        self.queue = []
        self.list_queue = []
        self.records = []
        self.seq = 0
        self.gitlab = {}
        self.accepted = {}  # (provider, repo, sha) -> the statuses it answered 201 for
        self.next_id = 1000
        self.hanging = 0
        self.hanging_max = 0
        self.release_gen = 0

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.records.append(entry)
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
                f.flush()

    def pop(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def pop_list(self):
        with self.lock:
            return self.list_queue.pop(0) if self.list_queue else None

    def keep(self, provider, repo, sha, status):
        with self.lock:
            self.accepted.setdefault((provider, repo, sha), []).append(status)

    def listed(self, provider, repo, sha):
        with self.lock:
            return list(self.accepted.get((provider, repo, sha), []))

    def new_id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "forge-double/1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    # ---- plumbing ----
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body, headers=None):
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        answer = {"code": code, "headers": {k: str(v) for k, v in hdrs.items()}, "body": body}
        if getattr(self, "deferred", None) is not None:  # a held post: written later
            self.deferred.append((code, body, headers))
            return answer
        data = b"" if body is None else json.dumps(body).encode()
        # a client gone before its answer (a status process killed with its agent): what
        # was decided stands, as on a forge that committed the status before answering,
        # and is still recorded, with "gone"
        try:
            self.send_response(code)
            for k, v in hdrs.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
            answer["gone"] = True
        return answer

    def hang(self, seconds=None):
        """Keeps the connection open without answering until the client leaves
        (False) or seconds have passed (True)."""
        st = self.server.state
        deadline = time.time() + (st.hang_max if seconds is None else seconds)
        gone = False
        sock = self.connection
        with st.lock:
            st.hanging += 1
            st.hanging_max = max(st.hanging_max, st.hanging)
            gen = st.release_gen
        try:
            while time.time() < deadline and st.release_gen == gen:
                r, _, _ = select.select([sock], [], [], 0.1)
                if r:
                    try:
                        if not sock.recv(1, 0x2):  # MSG_PEEK: b"" means closed
                            gone = True
                            break
                    except OSError:
                        gone = True
                        break
        finally:
            with st.lock:
                st.hanging -= 1
        self.close_connection = True
        return not gone and seconds is not None

    # ---- control ----
    def do_GET(self):
        st = self.server.state
        if self.path == "/_requests":
            with st.lock:
                self.send(200, list(st.records))
            return
        if self.path == "/_control":
            with st.lock:
                self.send(200, {"queued": list(st.queue), "token": st.token,
                                "hanging": st.hanging, "hanging_max": st.hanging_max})
            return
        for provider, rx in LIST_ROUTES:
            m = rx.match(self.path)
            if m:
                self.list_statuses(provider, m)
                return
        self.send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def control(self, raw):
        st = self.server.state
        try:
            c = json.loads(raw or b"{}")
            assert isinstance(c, dict)
        except Exception:
            self.send(400, {"error": "control body must be a JSON object"})
            return
        with st.lock:
            if c.get("reset"):
                st.queue.clear()
                st.list_queue.clear()
                st.gitlab.clear()
            if "token" in c:
                st.token = c["token"]
            ra = c.get("retry_after")
            for item in c.get("fail", []):
                if item == "hang":
                    item = {"hang": True}
                elif isinstance(item, int):
                    item = {"code": item}
                item = dict(item)
                if ra is not None and item.get("code") in (429, 503) and "retry_after" not in item:
                    item["retry_after"] = ra
                st.queue.append(item)
            for item in c.get("list_fail", []):
                st.list_queue.append({"code": item} if isinstance(item, int) else dict(item))
            if c.get("hang"):
                st.queue.append({"hang": True})
            if c.get("hold"):
                st.queue.append({"hold": float(c["hold"])})
            if c.get("release"):
                st.release_gen += 1
            n = len(st.queue)
        self.send(200, {"ok": True, "queued": n})

    # ---- status posts ----
    def do_POST(self):
        raw = self.read_body()
        if self.path == "/_control":
            self.control(raw)
            return
        st = self.server.state
        for provider, rx in ROUTES:
            m = rx.match(self.path)
            if m:
                break
        else:
            self.send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
            return
        if provider == "gitlab":
            repo, sha = urllib.parse.unquote(m.group(1)), m.group(2)
        else:
            repo, sha = m.group(1) + "/" + m.group(2), m.group(3)
        try:
            body = json.loads(raw) if raw else None
        except Exception:
            body = None
        entry = {
            "time": time.time(), "method": "POST", "path": self.path, "provider": provider,
            "repo": repo, "sha": sha,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body, "raw": raw.decode("utf-8", "replace"),
        }
        item = st.pop()
        if item and item.get("hang"):
            entry["answer"] = {"hang": True}
            st.record(entry)
            self.hang()
            return
        if item and item.get("hold"):
            self.deferred = []
            entry["answer"] = getattr(self, provider)(repo, sha, raw, body)
            entry["held"] = item["hold"]
            st.record(entry)
            answer, self.deferred = self.deferred, None
            if self.hang(item["hold"]):
                try:
                    self.send(*answer[0])
                except OSError:
                    pass
            return
        if item:
            entry["answer"] = self.scripted(item)
        else:
            entry["answer"] = getattr(self, provider)(repo, sha, raw, body)
        st.record(entry)

    def scripted(self, item):
        code = int(item.get("code", 500))
        headers = dict(item.get("headers") or {})
        if "retry_after" in item:
            headers["Retry-After"] = str(item["retry_after"])
        if "ratelimit_reset" in item:
            headers.update({"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                            "x-ratelimit-used": "5000",
                            "x-ratelimit-reset": str(int(time.time()) + int(item["ratelimit_reset"]))})
        body = item.get("body")
        if body is None:
            body = {
                429: {"message": "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.",
                      "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                403: {"message": "API rate limit exceeded for user ID 1.",
                      "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                503: {"message": "Service Unavailable"},
            }.get(code, {"message": "Server Error"})
        return self.send(code, body, headers)

    def token_from(self, schemes):
        auth = self.headers.get("Authorization") or ""
        parts = auth.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in schemes:
            return parts[1].strip()
        return None

    # GitHub: https://docs.github.com/rest/commits/statuses#create-a-commit-status
    def github(self, repo, sha, raw, body):
        st = self.server.state
        rl = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
              "x-ratelimit-reset": str(int(time.time()) + 3600), "x-ratelimit-resource": "core"}
        tok = self.token_from(("bearer", "token"))
        if tok is None:
            return self.send(401, {"message": "Requires authentication",
                                   "documentation_url": GITHUB_DOC, "status": "401"})
        if tok != st.token:
            return self.send(401, {"message": "Bad credentials",
                                   "documentation_url": "https://docs.github.com/rest", "status": "401"})
        if not isinstance(body, dict):
            return self.send(400, {"message": "Problems parsing JSON",
                                   "documentation_url": GITHUB_DOC, "status": "400"}, rl)
        if "state" not in body:
            return self.send(422, {"message": "Invalid request.\n\n\"state\" wasn't supplied.",
                                   "documentation_url": GITHUB_DOC, "status": "422"}, rl)
        errors = []
        if body.get("state") not in GITHUB_STATES:
            errors.append(("state", "state is not included in the list"))
        desc = body.get("description")
        if isinstance(desc, str) and len(desc) > 140:
            errors.append(("description", "description is too long (maximum is 140 characters)"))
        tu = body.get("target_url")
        if tu is not None and not re.match(r"^https?://", str(tu)):
            errors.append(("target_url", "target_url must use http(s) scheme"))
        if errors:
            return self.send(422, {"message": "Validation Failed",
                                   "errors": [{"resource": "Status", "code": "custom", "field": f,
                                               "message": m} for f, m in errors],
                                   "documentation_url": GITHUB_DOC, "status": "422"}, rl)
        if not SHA_RE.match(sha):
            return self.send(422, {"message": "No commit found for SHA: " + sha,
                                   "documentation_url": GITHUB_DOC, "status": "422"}, rl)
        sid = st.new_id()
        host = self.headers.get("Host", "127.0.0.1")
        url = "http://%s/repos/%s/statuses/%s" % (host, repo, sha)
        ts = now_iso()
        out = {
            "url": url, "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
            "id": sid, "node_id": "SC_kwDOdouble%d" % sid, "state": body["state"],
            "description": desc, "target_url": tu,
            "context": body.get("context", "default"), "created_at": ts, "updated_at": ts,
            "creator": {"login": "s2i-agent-bot", "id": 1, "type": "User", "site_admin": False},
        }
        rl["Location"] = url
        st.keep("github", repo, sha, out)
        return self.send(201, out, rl)

    # GitLab: POST /projects/:id/statuses/:sha (docs: commits API, "Set the pipeline status of a commit")
    def gitlab(self, repo, sha, raw, body):
        st = self.server.state
        tok = self.headers.get("PRIVATE-TOKEN")
        if tok is None:
            tok = self.token_from(("bearer",))
        if tok != st.token:
            return self.send(401, {"message": "401 Unauthorized"})
        if not isinstance(body, dict):
            return self.send(400, {"error": "body is not a JSON object"})
        state = body.get("state")
        if state is None:
            return self.send(400, {"error": "state is missing"})
        if state not in GITLAB_STATES:
            return self.send(400, {"error": "state does not have a valid value"})
        if not SHA_RE.match(sha):
            return self.send(404, {"message": "404 Commit Not Found"})
        name = body.get("name") or body.get("context") or "default"
        key = (repo, sha, name, body.get("ref"))
        with st.lock:
            prev = st.gitlab.get(key)
            if prev in GITLAB_ALLOWED and state not in GITLAB_ALLOWED[prev]:
                ev = GITLAB_EVENTS[state]
                msg = ("Cannot transition status via :%s from :%s (Reason(s): Status cannot "
                       "transition via \"%s\")" % (ev, prev, ev))
                bad = True
            else:
                st.gitlab[key] = state
                bad = False
        if bad:
            return self.send(400, {"message": msg})
        ts = now_iso()
        fin = state in ("success", "failed", "canceled", "skipped")
        out = {
            "id": st.new_id(), "sha": sha, "ref": body.get("ref"), "status": state, "name": name,
            "target_url": body.get("target_url"), "description": body.get("description"),
            "created_at": ts, "started_at": ts if state != "pending" else None,
            "finished_at": ts if fin else None, "allow_failure": False, "coverage": None,
            "pipeline_id": 1,
            "author": {"id": 1, "username": "s2i-agent-bot", "name": "s2i-agent", "state": "active"},
        }
        st.keep("gitlab", repo, sha, out)
        return self.send(201, out)

    # Gitea/Forgejo: POST /repos/{owner}/{repo}/statuses/{sha}
    def gitea(self, repo, sha, raw, body):
        st = self.server.state
        tok = self.token_from(("token", "bearer"))
        if tok != st.token:
            return self.send(401, {"message": "Only signed in user is allowed to call APIs.",
                                   "url": "http://%s/api/swagger" % self.headers.get("Host", "")})
        if not isinstance(body, dict):
            return self.send(422, [{"fieldNames": [], "classification": "DeserializationError",
                                    "message": "body is not a JSON object"}])
        if body.get("state") not in GITEA_STATES:
            return self.send(422, {"message": "invalid state %r" % body.get("state"), "url": ""})
        if not SHA_RE.match(sha):
            return self.send(404, {"message": "object does not exist", "url": ""})
        ts = now_iso()
        host = self.headers.get("Host", "127.0.0.1")
        out = {
            "id": st.new_id(), "status": body["state"], "target_url": body.get("target_url", ""),
            "description": body.get("description", ""),
            "url": "http://%s/api/v1/repos/%s/statuses/%s" % (host, repo, sha),
            "context": body.get("context", "default"),
            "creator": {"id": 1, "login": "s2i-agent-bot"}, "created_at": ts, "updated_at": ts,
        }
        st.keep("gitea", repo, sha, out)
        return self.send(201, out)

    # the commit's statuses, as each forge lists them (GitHub: "List commit statuses
    # for a reference", newest first; Gitea: repoListStatusesByRef; GitLab: "List
    # the statuses of a commit", oldest first, the latest per name unless all=true)
    def list_statuses(self, provider, m):
        st = self.server.state
        if provider == "gitlab":
            repo, sha, query = urllib.parse.unquote(m.group(1)), m.group(2), m.group(3)
        else:
            repo, sha, query = m.group(1) + "/" + m.group(2), m.group(3), m.group(4)
        q = urllib.parse.parse_qs(query or "")
        entry = {
            "time": time.time(), "method": "GET", "path": self.path, "provider": provider,
            "repo": repo, "sha": sha,
            "headers": {k.lower(): v for k, v in self.headers.items()}, "body": None, "raw": "",
        }
        if provider == "gitlab":
            tok = self.headers.get("PRIVATE-TOKEN") or self.token_from(("bearer",))
            bad = {"message": "401 Unauthorized"}
        elif provider == "gitea":
            tok = self.token_from(("token", "bearer"))
            bad = {"message": "Only signed in user is allowed to call APIs.", "url": ""}
        else:
            tok = self.token_from(("bearer", "token"))
            bad = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                   "status": "401"}
        if tok != st.token:
            entry["answer"] = self.send(401, bad)
            st.record(entry)
            return
        item = st.pop_list()
        if item:
            entry["answer"] = self.scripted(item)
            st.record(entry)
            return
        got = st.listed(provider, repo, sha)
        if provider == "gitlab":
            if q.get("all", ["false"])[0] != "true":
                latest = {}
                for s in got:
                    latest[s["name"]] = s
                got = sorted(latest.values(), key=lambda s: s["id"])
            per = int(q.get("per_page", ["20"])[0])
        else:
            got = list(reversed(got))
            per = int(q.get("per_page", q.get("limit", ["30"]))[0])
        entry["answer"] = self.send(200, got[:per])
        st.record(entry)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--hang-max", type=float, default=60.0)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.state = State(a.log, a.token, a.hang_max)
    open(a.log, "a").close()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
