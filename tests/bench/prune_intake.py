#!/usr/bin/env python3
"""prune_intake.py URL REPO SECRET BODY_FILE LOG SECONDS [--pass]: intake latency while
the daemon prunes (tests/bench/prune.sh). THREADS clients post signed GitHub pushes of
repository REPO to URL/hooks/REPO, one after another each, every body its own (another
"after" commit); a client that cannot connect yet tries again (the daemon may not listen
yet). Without --pass: for SECONDS from the first answer. With --pass: until the agent's
log LOG says "retention: deleted ... in N ms", then SECONDS more; the requests started
within the N ms before that line count. Prints "n p50 p99 max" (ms) of the requests
counted, and the HTTP codes other than 202 seen."""
import hashlib
import hmac
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse

THREADS = 4


def main():
    url, repo, secret, body_file, log, secs = sys.argv[1:7]
    secs = float(secs)
    in_pass = "--pass" in sys.argv[7:]
    u = urllib.parse.urlsplit(url)
    template = json.load(open(body_file))
    stop = threading.Event()
    first = threading.Event()
    lock = threading.Lock()
    samples, codes = [], {}
    counter = [0]

    def client(k):
        conn = None
        while not stop.is_set():
            with lock:
                counter[0] += 1
                n = counter[0]
            body = dict(template)
            body["after"] = "%08x%032x" % (k, n)
            body["ref"] = "refs/heads/main"
            data = json.dumps(body).encode()
            sig = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
            hdrs = {"Content-Type": "application/json", "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": "bench-%d-%d" % (k, n),
                    "X-Hub-Signature-256": "sha256=" + sig}
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                conn.request("POST", "/hooks/" + repo, data, hdrs)
                r = conn.getresponse()
                r.read()
            except OSError:
                conn = None
                time.sleep(0.001)
                continue
            t1 = time.monotonic()
            first.set()
            with lock:
                samples.append((t0, (t1 - t0) * 1000.0))
                if r.status != 202:
                    codes[r.status] = codes.get(r.status, 0) + 1
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None

    ts = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(THREADS)]
    for t in ts:
        t.start()
    if not first.wait(60):
        print("prune_intake: the agent never answered", file=sys.stderr)
        return 1
    lo, hi = time.monotonic(), None
    if in_pass:
        pat = re.compile(r"retention: deleted \d+ builds .* in (\d+) ms")
        deadline = time.monotonic() + 120
        while hi is None and time.monotonic() < deadline:
            for line in open(log, errors="replace"):
                m = pat.search(line)
                if m:
                    hi = time.monotonic()
                    lo = hi - int(m.group(1)) / 1000.0
                    break
            else:
                time.sleep(0.005)
        if hi is None:
            print("prune_intake: no pass was logged", file=sys.stderr)
            return 1
        time.sleep(secs)
    else:
        time.sleep(secs)
        hi = time.monotonic()
    stop.set()
    for t in ts:
        t.join(35)
    lat = sorted(ms for t0, ms in samples if lo <= t0 <= hi)
    if not lat:
        print("prune_intake: no request in the window", file=sys.stderr)
        return 1

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100.0))]
    print("%d %.2f %.2f %.2f %s" % (len(lat), pct(50), pct(99), lat[-1],
                                    ",".join("%d:%d" % kv for kv in sorted(codes.items())) or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
