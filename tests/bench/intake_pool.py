#!/usr/bin/env python3
"""intake_pool.py SECRET BODY_FILE RUN_ID N: N distinct signed pushes for
tests/bench/intake.lua, one "AFTER SIGNATURE" line each. The agent answers a signed
body it has seen before, or a push of the commit the ref is being built at, as a
duplicate (a replay): every delivery of the bench must be a push of its own, so
each is BODY_FILE with another "after" commit, signed (HMAC-SHA256, hex)."""
import hashlib
import hmac
import re
import sys


def main():
    secret, body_file, run, n = sys.argv[1].encode(), sys.argv[2], sys.argv[3], int(sys.argv[4])
    body = open(body_file, "rb").read()
    # the body around its "after" value, split where intake.lua splits it
    at = re.search(rb'"after"\s*:\s*"', body).end()
    prefix, suffix = body[:at], body[at + 40:]
    base = hmac.new(secret, prefix, hashlib.sha256)
    tag = hashlib.sha1(run.encode()).hexdigest()[:16]
    out = sys.stdout.buffer
    lines = []
    for i in range(n):
        after = ("%s%024x" % (tag, i)).encode()
        h = base.copy()
        h.update(after)
        h.update(suffix)
        lines.append(after + b" " + h.hexdigest().encode() + b"\n")
        if len(lines) == 10000:
            out.write(b"".join(lines))
            lines = []
    out.write(b"".join(lines))


if __name__ == "__main__":
    main()
