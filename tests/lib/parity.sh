#!/usr/bin/env bash
# Parity with the real s2i: the same source, builder and flags given to `s2i build` and to
# `s2i-agent build`, and the two images compared (config, labels, files with owner and mode).
# Source it after setting TEST; it sources s2i.sh. The s2i CLI comes from $S2I_BIN, else
# build/s2i, else ../shared/peers/s2i.xz beside the repository (unpacked into build/s2i).
set -u
source "$TESTS_DIR/lib/s2i.sh"

pa_find_s2i() {
	local repo xz
	repo=$(cd "$TESTS_DIR/.." && pwd)
	xz="$repo/../shared/peers/s2i.xz"
	if [ -n "${S2I_BIN:-}" ]; then
		[ -x "$S2I_BIN" ] || skip "S2I_BIN='$S2I_BIN' is not executable"
		PA_S2I=$S2I_BIN
		return
	fi
	PA_S2I=$repo/build/s2i
	[ -x "$PA_S2I" ] && return
	[ -f "$xz" ] || skip "no s2i to compare with: set S2I_BIN, or put s2i.xz in $repo/../shared/peers"
	command -v xz >/dev/null || skip "xz is not installed: cannot unpack $xz"
	mkdir -p "$repo/build"
	# unpack beside, then rename: parallel tests never see half a binary
	xz -dc "$xz" >"$PA_S2I.$$" && chmod 755 "$PA_S2I.$$" && mv -f "$PA_S2I.$$" "$PA_S2I" ||
		{ rm -f "$PA_S2I.$$"; skip "cannot unpack $xz"; }
}
pa_find_s2i
command -v python3 >/dev/null || skip "python3 is needed to list image files"

# s2i talks to the engine under test
if [ -n "$S2I_ENGINE_URL" ]; then
	export DOCKER_HOST=$S2I_ENGINE_URL
else
	export DOCKER_HOST=unix://${ENGINE_SOCK:-/var/run/docker.sock}
fi
# s2i reads ~/.docker/config.json for registry credentials: none, so nothing leaks in
PA_HOME=$S2I_TMP/home
mkdir -p "$PA_HOME"

# Runs `s2i build ARGS...`; output in $S2I_TMP/s2i.out, status in $rc.
pa_s2i() {
	HOME=$PA_HOME "$PA_S2I" build --loglevel 1 "$@" >"$S2I_TMP/s2i.out" 2>&1
	rc=$?
}

# The configuration of image, one fact per line: what s2i produces and what we must match.
# Labels the agent adds on its own (io.s2i-agent.*, org.opencontainers.image.*) are left
# out; pa_compare checks that s2i sets none of them.
pa_config() {	# image
	eng image inspect "$1" | python3 -c '
import json, sys
c = json.load(sys.stdin)[0]["Config"] or {}
for k in ("Cmd", "Entrypoint", "User", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal"):
    v = c.get(k)
    print("%s=%s" % (k, json.dumps(v if v else None, sort_keys=True)))
# the order of -E variables is random in s2i (it reads the file into a map): the
# variables sorted, then the value each name ends up with (the last one)
env = c.get("Env") or []
for e in sorted(env):
    print("Env " + e)
last = {}
for e in env:
    k, _, v = e.partition("=")
    last[k] = v
for k in sorted(last):
    print("EnvValue %s=%s" % (k, last[k]))
for k, v in sorted((c.get("Labels") or {}).items()):
    if k.startswith("io.s2i-agent.") or k.startswith("org.opencontainers.image."):
        if sys.argv[1] == "agent":
            continue
    print("Label %s=%s" % (k, json.dumps(v)))
' "${2:-agent}"
}

# Every entry under the directories given (default: the image's WorkingDir), from an
# export of a container of image: type, mode, owner, size, a checksum of the content
# and the link target. Times are left out (they differ between any two builds). Entries
# under $PA_ANY_OWNER (a directory) show no owner: a difference kept on purpose (README).
pa_files() {	# image [dir...]
	local img=$1 cid
	shift
	cid=$(eng create "$img" 2>/dev/null) || fail "cannot create a container of $img"
	[ $# -gt 0 ] || set -- "$(eng image inspect -f '{{.Config.WorkingDir}}' "$img")"
	eng export "$cid" | python3 -c '
import hashlib, sys, tarfile
dirs = [d.strip("/") for d in sys.argv[2:]]
any_owner = sys.argv[1].strip("/")
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    rows = []
    for m in t:
        name = m.name.rstrip("/")
        if name.startswith("./"):
            name = name[2:]
        if not any(name == d or name.startswith(d + "/") for d in dirs):
            continue
        kind = "d" if m.isdir() else "l" if m.issym() else "h" if m.islnk() else "f" if m.isfile() else "o"
        extra = ""
        if m.isfile():
            extra = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16]
        elif m.issym() or m.islnk():
            extra = "-> " + m.linkname
        owner = "%d:%d" % (m.uid, m.gid)
        if any_owner and (name == any_owner or name.startswith(any_owner + "/")):
            owner = "-"
        rows.append("%s %04o %s %d %s %s" % (kind, m.mode & 0o7777, owner,
                    m.size if m.isfile() else 0, "/" + name, extra))
    for r in sorted(rows):
        print(r.rstrip())
' "${PA_ANY_OWNER:-}" "$@"
	local st=$?
	eng rm -f "$cid" >/dev/null 2>&1
	return $st
}

# An image FROM base with more Dockerfile lines (EXPOSE, ENV, ...): pa_derive NAME BASE LINE...
pa_derive() {
	local name=$1 base=$2 ctx
	shift 2
	ctx=$(mktemp -d -p "$S2I_TMP")
	{ echo "FROM $base"; printf '%s\n' "$@"; } >"$ctx/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q --network none -t "$name" "$ctx" >/dev/null 2>"$ctx/err" ||
		{ cat "$ctx/err" >&2; fail "docker build of $name"; }
	if s2i_podman; then
		docker save "$name" | eng load >/dev/null 2>"$ctx/err" || { cat "$ctx/err" >&2; fail "podman load of $name"; }
	fi
}

PA_DIFFS=0
# Compares the image s2i built with ours; prints the differences and counts them.
pa_compare() {	# what s2i_image agent_image [dir...]
	local what=$1 a=$2 b=$3 d
	shift 3
	d=$S2I_TMP/cmp
	mkdir -p "$d"
	pa_config "$a" s2i >"$d/s2i.config" || fail "$what: cannot inspect $a"
	pa_config "$b" agent >"$d/agent.config" || fail "$what: cannot inspect $b"
	if grep -E '^Label (io\.s2i-agent\.|org\.opencontainers\.image\.)' "$d/s2i.config"; then
		fail "$what: s2i set a label we leave out of the comparison"
	fi
	pa_files "$a" "$@" >"$d/s2i.files" || fail "$what: cannot list the files of $a"
	pa_files "$b" "$@" >"$d/agent.files" || fail "$what: cannot list the files of $b"
	[ -s "$d/s2i.files" ] || fail "$what: no files listed in $a"
	if ! diff -u --label "s2i build" --label "s2i-agent build" "$d/s2i.config" "$d/agent.config" >"$d/diff" ||
		! diff -u --label "s2i build" --label "s2i-agent build" "$d/s2i.files" "$d/agent.files" >>"$d/diff"; then
		echo "DIFFERENCE: $what"
		cat "$d/diff"
		PA_DIFFS=$((PA_DIFFS + 1))
		return 1
	fi
	echo "same: $what ($(grep -c . "$d/s2i.config") config lines, $(grep -c . "$d/s2i.files") files)"
}

# Builds with both: pa_both WHAT [FLAGS...] -- SOURCE BUILDER. Both build the same tag
# (it is the default io.k8s.display-name): s2i's image is then tagged $(s2i_name s2i-N), ours
# keeps the tag, N a running number. Sets pa_s2i_tag and pa_agent_tag. With PA_TAG set, that
# tag is built (an incremental build continues the chain of that tag).
PA_N=0
pa_both() {	# what flags... -- source builder
	local what=$1 flags=() tag
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	PA_N=$((PA_N + 1))
	tag=${PA_TAG:-$(s2i_name "app-$PA_N"):latest}
	pa_s2i_tag=$(s2i_name "s2i-$PA_N"):latest
	pa_agent_tag=$tag
	pa_s2i_only "$what" "${flags[@]}" -- "$@" "$tag"
	eng tag "$tag" "$pa_s2i_tag" || fail "$what: cannot tag s2i's image"
	s2i_build --pull-policy never "${flags[@]}" "$@" "$tag"
	s2i_expect_ok "$what"
}

# One `s2i build` that must succeed: pa_s2i_only WHAT [FLAGS...] -- SOURCE BUILDER TAG.
pa_s2i_only() {
	local what=$1 flags=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	pa_s2i --pull-policy never "${flags[@]}" "$@"
	[ "$rc" = 0 ] && grep -q "Build completed successfully" "$S2I_TMP/s2i.out" ||
		{ cat "$S2I_TMP/s2i.out"; fail "$what: s2i build failed (exit $rc)"; }
}

# Ends the test: fails when any comparison differed.
pa_done() {
	[ "$PA_DIFFS" = 0 ] || fail "$PA_DIFFS comparison(s) differ from s2i"
	echo "ok"
}
