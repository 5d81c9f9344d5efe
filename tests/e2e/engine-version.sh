#!/usr/bin/env bash
# An engine whose API range does not overlap ours (a fake one on a unix socket: API
# 1.52 to 1.60, which refuses every versioned call with Docker's 400) is refused at
# once, with both ranges, by `build` (before the source is fetched), `check` and
# /healthz; the same socket speaking 1.44 to 1.52 (Docker 29) is accepted, and we
# speak 1.51 with it (the fake records the versioned paths it was asked).
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
command -v python3 >/dev/null || skip "python3 missing"
sock=$AGENT_DIR/engine.sock
mode=$AGENT_DIR/engine.mode
echo "1.52 1.60" >"$mode"
cat >"$AGENT_DIR/fake.py" <<'PY'
import json, os, socketserver, sys
sock, mode, seen = sys.argv[1], sys.argv[2], sys.argv[3]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode()
        if not line.strip():
            return  # a connect-only probe (/healthz)
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        path = line.split(" ")[1] if " " in line else "/"
        lo, hi = open(mode).read().split()
        if path.startswith("/version"):
            code, body = 200, {"Version": "35.0.0", "ApiVersion": hi, "MinAPIVersion": lo, "Os": "linux",
                               "Components": [{"Name": "Engine", "Version": "35.0.0"}]}
        elif path.startswith("/_ping"):
            code, body = 200, None
        else:
            with open(seen, "a") as f:
                f.write(path + "\n")
            v = path.split("/")[1][1:]
            code, body = 400, {"message": "client version %s is too old. Minimum supported API version is %s, "
                                          "please upgrade your client to a newer version" % (v, lo)}
            if tuple(map(int, v.split("."))) >= tuple(map(int, lo.split("."))):
                code, body = 404, {"message": "No such image: fake"}
        data = b"OK" if body is None else json.dumps(body).encode()
        self.wfile.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % (code, len(data)) + data)
if os.path.exists(sock):
    os.unlink(sock)
socketserver.ThreadingUnixStreamServer(sock, H).serve_forever()
PY
python3 "$AGENT_DIR/fake.py" "$sock" "$mode" "$AGENT_DIR/seen" 2>"$AGENT_DIR/fake.log" &
fake=$!
stop_fake() { kill "$fake" 2>/dev/null; }
agent_on_exit stop_fake
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "the fake engine did not start"

ranges="speaks API 1.52 to 1.60, s2i-agent speaks 1.24 to 1.51: no version in common (upgrade s2i-agent)"
# build: refused before anything else, exit 1 (an errored build), nothing versioned asked
mkdir -p "$AGENT_DIR/src"
echo 'echo hi' >"$AGENT_DIR/src/app.sh"
"$S2I_AGENT" build -U "unix://$sock" "$AGENT_DIR/src" fake/builder:1 >"$AGENT_DIR/out" 2>"$AGENT_DIR/err"
rc=$?
[ "$rc" = 1 ] || { cat "$AGENT_DIR/out" "$AGENT_DIR/err"; fail "build exited $rc"; }
grep -qF "$ranges" "$AGENT_DIR/err" || { cat "$AGENT_DIR/err"; fail "build error lacks both ranges"; }
grep -qF "Docker 35.0.0 at unix://$sock" "$AGENT_DIR/err" || { cat "$AGENT_DIR/err"; fail "build error lacks the engine"; }
grep -q -- "--> source" "$AGENT_DIR/out" && fail "the source was opened before the engine was checked"
[ ! -s "$AGENT_DIR/seen" ] || fail "versioned calls were made: $(cat "$AGENT_DIR/seen")"

# check: a configuration error naming the engine and both ranges
AGENT_ENGINE=unix://$sock
AGENT_PORT=$(free_port)
agent_repo web "engine-version-secret-$$"
agent_write_config
"$S2I_AGENT" check -c "$AGENT_DIR/agent.conf" >"$AGENT_DIR/check" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$AGENT_DIR/check"; fail "check exited $rc"; }
# the line of agent.conf that names the engine (check gives the line number since it
# checks what serve will meet)
grep -qE "^$AGENT_DIR/agent\.conf(:[0-9]+)?: engine 'unix://$sock': " "$AGENT_DIR/check" &&
	grep -qF "$ranges" "$AGENT_DIR/check" ||
	{ cat "$AGENT_DIR/check"; fail "check does not say why"; }

# /healthz: 503 with both ranges
start_agent || fail "agent did not start"
http_req "$AGENT_URL/healthz"
expect 503
grep -qF "$ranges" "$AGENT_DIR/last.body" || fail "healthz does not give the ranges: $HTTP_BODY"

# the same socket as Docker 29 (1.44 to 1.52): accepted everywhere, and we speak 1.51
echo "1.44 1.52" >"$mode"
"$S2I_AGENT" check -c "$AGENT_DIR/agent.conf" >"$AGENT_DIR/check" 2>&1 || { cat "$AGENT_DIR/check"; fail "check refused 1.44..1.52"; }
sleep 5.5	# past /healthz's cache of the last answer
http_req "$AGENT_URL/healthz"
expect 200
"$S2I_AGENT" build -U "unix://$sock" "$AGENT_DIR/src" fake/builder:1 >"$AGENT_DIR/out" 2>"$AGENT_DIR/err"
grep -q "No such image: fake" "$AGENT_DIR/err" || { cat "$AGENT_DIR/out" "$AGENT_DIR/err"; fail "build did not reach the engine"; }
head -n 1 "$AGENT_DIR/out" | grep -qF -- "--> engine Docker 35.0.0 at unix://$sock, API 1.51 (it speaks 1.44 to 1.52)" ||
	{ cat "$AGENT_DIR/out"; fail "the first line does not name the engine"; }
grep -q '^/v1\.51/images/fake/builder:1/json' "$AGENT_DIR/seen" || fail "not API 1.51: $(cat "$AGENT_DIR/seen")"
grep -qv '^/v1\.51/' "$AGENT_DIR/seen" && fail "a call in another version: $(cat "$AGENT_DIR/seen")"
echo ok
