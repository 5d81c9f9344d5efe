#!/usr/bin/env bash
# Scripts from elsewhere and what goes around a build: --scripts-url file:// and http://,
# the label's file:// form, injections (present during assemble, empty in the image),
# --callback-url (the POST body), -d/--destination and the destination label.
TEST=build-scripts
source "$TESTS_DIR/lib/s2i.sh"

builder=$(s2i_name builder)
s2i_builder "$builder" --no-scripts --no-label
src=$S2I_TMP/app
s2i_git_source "$src" "scripts"

remote=$S2I_TMP/remote
s2i_write_scripts "$remote"
sed -i 's/^echo "assemble: uid/echo "remote assemble"; echo "assemble: uid/' "$remote/assemble"

# without scripts anywhere: a clear error
s2i_build --network none "$src" "$builder" "$(s2i_name none)"
[ "$rc" = 1 ] || fail "a build without scripts exited $rc"
grep -q "no 'assemble' script" "$S2I_TMP/err" || { s2i_show; fail "missing script message"; }

# file:// scripts are uploaded into <dest>/scripts
tag=$(s2i_name file):latest
s2i_build --network none --scripts-url "file://$remote" "$src" "$builder" "$tag"
s2i_expect_ok "file:// scripts"
s2i_expect_out "remote assemble"
[ "$(eng image inspect -f '{{json .Config.Cmd}}' "$tag")" = '["/tmp/scripts/run"]' ] || fail "Cmd file://"
[ "$(s2i_run "$tag")" = "answer: scripts" ] || fail "file:// app"

# http:// scripts from a local server
port=$(s2i_port)
(cd "$remote" && exec python3 -m http.server --bind 127.0.0.1 "$port") >"$S2I_TMP/http.log" 2>&1 &
S2I_PIDS+=($!)
wait_url "http://127.0.0.1:$port/run" 5
tag2=$(s2i_name http):latest
s2i_build --network none -s "http://127.0.0.1:$port" -d /tmp "$src" "$builder" "$tag2"
s2i_expect_ok "http:// scripts"
s2i_expect_out "remote assemble"
grep -q "GET /assemble" "$S2I_TMP/http.log" || fail "assemble was not downloaded"
[ "$(s2i_run "$tag2")" = "answer: scripts" ] || fail "http:// app"
# a scripts URL that provides nothing is an error
s2i_build --network none -s "http://127.0.0.1:$port/nothing-here" "$src" "$builder" "$tag2"
[ "$rc" = 1 ] || fail "empty scripts URL accepted"

# the label may name a file:// directory on the agent's host, and a destination
labelled=$(s2i_name labelled)
s2i_builder "$labelled" --no-scripts --dest /var/s2i \
	--label "io.openshift.s2i.scripts-url=file://$remote"
s2i_write_scripts "$remote" /var/s2i
tag3=$(s2i_name labelled-app):latest
s2i_build --network none "$src" "$labelled" "$tag3"
s2i_expect_ok "file:// label and destination label"
[ "$(eng image inspect -f '{{json .Config.Cmd}}' "$tag3")" = '["/var/s2i/scripts/run"]' ] || fail "Cmd /var/s2i"
[ "$(s2i_run "$tag3")" = "answer: scripts" ] || fail "labelled app"
s2i_write_scripts "$remote"

# injections: readable during assemble, truncated in the image
image_builder=$(s2i_name image)
iscripts=$S2I_TMP/iscripts
s2i_write_scripts "$iscripts"
cat >>"$iscripts/assemble" <<'SH'
if [ -f /etc/app-secret.txt ]; then
	echo "secret during assemble: $(cat /etc/app-secret.txt) / $(cat /opt/dir/token)"
fi
echo "hosts: $(grep example.test /etc/hosts | tr -s ' \t' ' ')"
echo "volume: $(cat /mnt/vol/f 2>/dev/null)"
echo "capbnd: $(grep CapBnd /proc/self/status | cut -f2)"
SH
s2i_builder "$image_builder" --scripts "$iscripts"
mkdir -p "$S2I_TMP/creds/dir"
echo "s3cr3t" >"$S2I_TMP/secret.txt"
echo "t0ken" >"$S2I_TMP/creds/dir/token"
eng run --rm --network none "$image_builder" true # image works
tag4=$(s2i_name inject):latest
s2i_build --network none -i "$S2I_TMP/secret.txt:/etc/app-secret.txt" --inject "$S2I_TMP/creds:/opt" \
	"$src" "$image_builder" "$tag4"
s2i_expect_ok "injections"
s2i_expect_out "secret during assemble: s3cr3t / t0ken"
[ "$(s2i_run "$tag4" stat -c %s /etc/app-secret.txt)" = 0 ] || fail "injected file not truncated"
[ "$(s2i_run "$tag4" stat -c %s /opt/dir/token)" = 0 ] || fail "injected dir file not truncated"
s2i_no_leftovers

# -v, --add-host, --cap-drop reach the build container
s2i_bind_dir
echo "from-the-host" >"$S2I_BIND_DIR/f"
s2i_build --network none -v "$S2I_BIND_PATH:/mnt/vol:ro" --add-host example.test:10.1.2.3 \
	--cap-drop CHOWN,NET_RAW "$src" "$image_builder" "$(s2i_name hostcfg):latest"
s2i_expect_ok "volume, extra host, dropped capabilities"
s2i_expect_out "hosts: 10.1.2.3 example.test"
s2i_expect_out "volume: from-the-host"
cap=$(sed -n 's/^capbnd: //p' "$S2I_TMP/out")
[ -n "$cap" ] && [ $((16#$cap & 1)) = 0 ] && [ $((16#$cap & 8192)) = 0 ] || fail "capabilities not dropped: $cap"
s2i_no_leftovers

# --callback-url: the POST body says success and carries the labels
cport=$(s2i_port)
cat >"$S2I_TMP/listener.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(self.headers.get("Content-Type", "").encode() + b"\n" + body + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$S2I_TMP/listener.py" "$cport" "$S2I_TMP/posts" &
S2I_PIDS+=($!)
wait_port "$cport" 5
tag5=$(s2i_name callback):latest
s2i_build --network none --callback-url "http://127.0.0.1:$cport/done" -s "file://$remote" "$src" "$builder" "$tag5"
s2i_expect_ok "callback build"
[ -s "$S2I_TMP/posts" ] || fail "no callback POST"
head -n 1 "$S2I_TMP/posts" | grep -q application/json || fail "callback content type"
sed -n 2p "$S2I_TMP/posts" | jq -e '.success == true and .labels["io.openshift.s2i.build.image"] != null' >/dev/null ||
	fail "callback body: $(cat "$S2I_TMP/posts")"
: >"$S2I_TMP/posts"
s2i_build --network none --callback-url "http://127.0.0.1:$cport/done" "$src" "$builder" "$tag5"
[ "$rc" = 1 ] || fail "build without scripts succeeded"
sed -n 2p "$S2I_TMP/posts" | jq -e '.success == false' >/dev/null || fail "failure callback: $(cat "$S2I_TMP/posts")"
echo ok
