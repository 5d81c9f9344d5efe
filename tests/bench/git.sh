#!/usr/bin/env bash
# Bench piece (run by tests/bench/run): a 20k-file repository (~80 MB of text) mirrored by gitsrc over
# git:// (git daemon on 127.0.0.1) and file://: first fetch vs the incremental fetch after
# one new commit (target: <= 10%), and peak RSS while the source tar streams (target:
# <= 30 MB). Env: S2I_AGENT (default ./build/rel/s2i-agent), BENCH_FILES (20000),
# BENCH_RUNS (3: medians). Only wall times of the fetch itself are compared.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/poll.sh
AGENT=${S2I_AGENT:-$PWD/build/rel/s2i-agent}
FILES=${BENCH_FILES:-20000}
[ -x "$AGENT" ] || { echo "git bench: no binary $AGENT (run make)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/s2i-bench-git.XXXXXX")
dpid=
trap '[ -n "$dpid" ] && kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$tmp
val() { sed -n "s/^$1=//p" "$2"; }

# ---- a repository of $FILES files (~1 KiB each, 100 directories) via fast-import ----
repo=$tmp/base/big.git
git init -q --bare -b main "$repo"
python3 - "$FILES" >"$tmp/stream" <<'EOF'
# source-like files: ~4 KiB of pseudo-random words each (compresses like code does)
import random, sys
n = int(sys.argv[1])
rnd = random.Random(42)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 12)))
         for _ in range(5000)]
out = sys.stdout.buffer
out.write(b"commit refs/heads/main\ncommitter Bench <bench@example.com> 1795704333 +0000\n")
msg = b"20k files\n"
out.write(b"data %d\n%s" % (len(msg), msg))
for i in range(n):
    lines = []
    size = 0
    while size < 4096:
        line = b" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + b"\n"
        lines.append(line)
        size += len(line)
    body = b"".join(lines)
    out.write(b"M 100644 inline d%02d/sub%d/f%05d.txt\ndata %d\n%s\n" % (i % 100, i % 7, i, len(body), body))
EOF
git -C "$repo" fast-import --quiet <"$tmp/stream" || { echo "git bench: fast-import failed"; exit 1; }
git -C "$repo" repack -adq
cp -a "$repo" "$tmp/pristine.git"	# each run starts from it: no objects of later commits
new_commit() {	# one changed file on main
	local parent
	parent=$(git -C "$repo" rev-parse main)
	{
		printf 'commit refs/heads/main\ncommitter Bench <bench@example.com> 1795704400 +0000\n'
		printf 'data 7\nchange\n'
		printf 'from %s\n' "$parent"
		printf 'M 100644 inline d00/sub0/f00000.txt\ndata 8\nchanged\n\n'
	} | git -C "$repo" fast-import --quiet --force
}

port=$(free_port)
git daemon --reuseaddr --export-all --base-path="$tmp/base" --listen=127.0.0.1 --port="$port" \
	"$tmp/base" 2>"$tmp/daemon.log" &
dpid=$!
wait_port "$port" 10

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
status=0
RUNS=${BENCH_RUNS:-3}
run() {	# transport url: RUNS fresh mirrors, each fetched then fetched again after one commit
	local name=$1 url=$2 m i f1s= f2s= o1 o2 f1 f2 ratio
	for i in $(seq 1 "$RUNS"); do
		m=$tmp/state/$name-$i.git
		rm -rf "$repo" && cp -a "$tmp/pristine.git" "$repo"
		"$AGENT" __gitsrc-fetch --mirror "$m" --ref main "$url" >"$tmp/$name.1" 2>&1 ||
			{ echo "git bench: $name first fetch failed: $(tail -1 "$tmp/$name.1")"; status=1; return; }
		new_commit
		"$AGENT" __gitsrc-fetch --mirror "$m" --ref refs/heads/main --sha "$(git -C "$repo" rev-parse main)" \
			"$url" >"$tmp/$name.2" 2>&1 ||
			{ echo "git bench: $name incremental fetch failed: $(tail -1 "$tmp/$name.2")"; status=1; return; }
		f1s="$f1s $(val fetch_seconds "$tmp/$name.1")"
		f2s="$f2s $(val fetch_seconds "$tmp/$name.2")"
	done
	f1=$(echo $f1s | tr ' ' '\n' | median) f2=$(echo $f2s | tr ' ' '\n' | median)
	o1=$(val objects "$tmp/$name.1") o2=$(val objects "$tmp/$name.2")
	ratio=$(echo "scale=4; $f2 / $f1 * 100" | bc)
	printf 'git %-5s first fetch       %7.3f s  median of %d (%s objects)\n' "$name" "$f1" "$RUNS" "$o1"
	printf 'git %-5s incremental fetch %7.3f s  median of %d (%s objects)\n' "$name" "$f2" "$RUNS" "$o2"
	if [ "$name" = file ]; then
		echo "git file  (a fresh mirror of a local repository links or copies its object files)"
	else
		printf 'git %-5s incremental/first %7.1f %%  (target <= 10%%)\n' "$name" "$ratio"
	fi
	# streaming the 20k-file tree of the mirror into a counting sink
	"$AGENT" __gitsrc-fetch --mirror "$m" --ref main --tar null "$url" >"$tmp/$name.3" 2>&1 ||
		{ echo "git bench: $name tar failed: $(tail -1 "$tmp/$name.3")"; status=1; return; }
	printf 'git %-5s tar of %s files %7.3f s  %s MB, peak RSS %s MB (target <= 30 MB)\n' "$name" "$FILES" \
		"$(val tar_seconds "$tmp/$name.3")" "$(( $(val tar_bytes "$tmp/$name.3") / 1048576 ))" \
		"$(echo "scale=1; $(val vmhwm_kb "$tmp/$name.3") / 1024" | bc)"
}
run git "git://127.0.0.1:$port/big.git"
run file "file://$repo"
exit $status
