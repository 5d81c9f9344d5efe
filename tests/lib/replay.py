#!/usr/bin/env python3
"""replay.py: signed webhook deliveries as a forge sends them, captured, and sent
again as an attacker would (tests/e2e/attack-replay.sh).

  replay.py capture OUT.json PROVIDER URL SECRET BODY_FILE
      signs BODY_FILE the way PROVIDER does (github, gitea, gitlab: X-Gitlab-Token,
      gitlab-signing: webhook-id/-timestamp/-signature with a whsec_ SECRET,
      generic), posts it once with a fresh delivery id and writes the request as
      sent (url, headers, body) to OUT.json; prints "CODE BODY"
  replay.py replay N PARALLEL OUT1.json [OUT2.json ...]
      sends N requests in all, round robin over the captured ones, each exactly
      as captured but for a new delivery id (the one header no forge signs), over
      PARALLEL keep-alive connections; prints a JSON tally of the answers
"""
import base64
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid

DELIVERY = {
    "github": "X-GitHub-Delivery",
    "gitea": "X-Gitea-Delivery",
    "gitlab": "X-Gitlab-Event-UUID",
    "gitlab-signing": "X-Gitlab-Event-UUID",
    "generic": "X-Request-Id",
}


def sign(provider, secret, body):
    h = {"Content-Type": "application/json"}
    hexmac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if provider == "github":
        h["X-GitHub-Event"] = "push"
        h["X-Hub-Signature-256"] = "sha256=" + hexmac
    elif provider == "gitea":
        h["X-Gitea-Event"] = "push"
        h["X-Gitea-Signature"] = hexmac
    elif provider == "gitlab":
        h["X-Gitlab-Event"] = "Push Hook"
        h["X-Gitlab-Token"] = secret
    elif provider == "gitlab-signing":
        key = base64.b64decode(secret[len("whsec_"):])
        mid, ts = "msg_" + uuid.uuid4().hex, str(int(time.time()))
        mac = hmac.new(key, mid.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
        h["X-Gitlab-Event"] = "Push Hook"
        h["webhook-id"] = mid
        h["webhook-timestamp"] = ts
        h["webhook-signature"] = "v1," + base64.b64encode(mac.digest()).decode()
    elif provider == "generic":
        h["X-Hub-Signature-256"] = "sha256=" + hexmac
    else:
        raise SystemExit("unknown provider " + provider)
    return h


def post(conn, path, headers, body):
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read().decode(errors="replace")


def capture(out, provider, url, secret, body_file):
    body = open(body_file, "rb").read()
    headers = sign(provider, secret, body)
    headers[DELIVERY[provider]] = "orig-" + uuid.uuid4().hex
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    code, answer = post(conn, u.path, headers, body)
    conn.close()
    with open(out, "w") as f:
        json.dump({"provider": provider, "url": url, "headers": headers,
                   "body": base64.b64encode(body).decode()}, f)
    print(code, answer.strip())


def replay(n, parallel, files):
    reqs = []
    for name in files:
        c = json.load(open(name))
        c["body"] = base64.b64decode(c["body"])
        c["delivery"] = DELIVERY[c["provider"]]
        reqs.append(c)
    lock = threading.Lock()
    tally = {"sent": 0, "codes": {}, "duplicate_of": {}, "other": []}
    next_i = [0]

    def worker():
        conns = {}
        while True:
            with lock:
                i = next_i[0]
                if i >= n:
                    break
                next_i[0] += 1
            c = reqs[i % len(reqs)]
            u = urllib.parse.urlsplit(c["url"])
            headers = dict(c["headers"])
            headers[c["delivery"]] = "replay-%d-%s" % (i, uuid.uuid4().hex[:12])
            key = (u.hostname, u.port)
            for attempt in (0, 1):
                conn = conns.get(key) or http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                conns[key] = conn
                try:
                    code, answer = post(conn, u.path, headers, c["body"])
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conns.pop(key, None)
                    if attempt:
                        code, answer = 0, "connection failed"
            with lock:
                tally["sent"] += 1
                tally["codes"][str(code)] = tally["codes"].get(str(code), 0) + 1
                try:
                    dup = json.loads(answer).get("duplicate")
                except ValueError:
                    dup = None
                if code == 200 and isinstance(dup, int):
                    k = "%s %s" % (c["provider"], dup)
                    tally["duplicate_of"][k] = tally["duplicate_of"].get(k, 0) + 1
                elif len(tally["other"]) < 5:
                    tally["other"].append("%s %s %s" % (c["provider"], code, answer.strip()))
        for conn in conns.values():
            conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(tally, sort_keys=True))


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "capture":
        capture(*sys.argv[2:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "replay":
        replay(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
