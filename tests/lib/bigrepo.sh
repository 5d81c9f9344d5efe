#!/usr/bin/env bash
# bigrepo.sh: the benches' git source of realistic size (tests/bench/s2i.sh, push.sh):
# thousands of files, tens of MB, a history; and a builder whose assemble copies it all.
# Source it after s2i.sh (s2i_builder, s2i_commit_all, fail).
#   big_repo BARE [FILES] [COMMITS]   a bare repository, branch main, FILES files (default
#                                     $BIG_FILES or 4500) and COMMITS commits after the import
#                                     (default $BIG_COMMITS or 40), packed as one pack; prints
#                                     "N files, M MB in the tree, C commits, P MB packed"
#   big_builder NAME                  the builder: assemble copies /tmp/src, run lists it
#   big_change WORKTREE               one new commit that changes one file
big_repo() {	# bare [files] [commits]
	local repo=$1 files=${2:-${BIG_FILES:-4500}} commits=${3:-${BIG_COMMITS:-40}} nfiles mb packmb
	git init -q --bare -b main "$repo" || fail "git init $repo"
	# a source tree: text files of 1-30 KiB of code-like words in nested directories, some
	# binary assets of 50-500 KiB; then commits that each change a few files
	python3 - "$files" "$commits" <<'EOF' | git -C "$repo" fast-import --quiet || fail "fast-import of $repo"
import random, sys
n, commits = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(7)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz_(){};=") for _ in range(rnd.randint(2, 12)))
         for _ in range(8000)]
out = sys.stdout.buffer
def text(size):
    parts, got = [], 0
    while got < size:
        line = b"    " * rnd.randint(0, 3) + b" ".join(rnd.choice(words) for _ in range(rnd.randint(2, 10))) + b"\n"
        parts.append(line)
        got += len(line)
    return b"".join(parts)
def commit(t, msg, files):
    out.write(b"commit refs/heads/main\nauthor Bench <bench@example.com> %d +0000\n" % t)
    out.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    for path, body in files:
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(body), body))
paths = []
for i in range(n):
    d = b"src/m%02d/p%d" % (i % 60, i % 5)
    if i % 90 == 0:
        paths.append((b"assets/a%04d.bin" % i, bytes(rnd.getrandbits(8) for _ in range(rnd.randint(50, 500) * 1024))))
    else:
        paths.append((b"%s/f%05d.c" % (d, i), text(rnd.randint(1, 30) * 1024)))
commit(1795700000, b"import", paths)
for c in range(commits):
    changed = [(rnd.choice(paths)[0], text(rnd.randint(1, 20) * 1024)) for _ in range(rnd.randint(1, 8))]
    changed = [(p, b) for p, b in changed if not p.endswith(b".bin")]
    commit(1795700000 + 600 * (c + 1), b"change %d" % c, changed)
EOF
	git -C "$repo" repack -adq || fail "repack of $repo"
	nfiles=$(git -C "$repo" ls-tree -r main | wc -l)
	mb=$(git -C "$repo" ls-tree -r -l main | awk '{s += $4} END {printf "%.1f", s / 1048576}')
	packmb=$(du -sm "$repo/objects/pack" | cut -f1)
	echo "$nfiles files, $mb MB in the tree, $(git -C "$repo" rev-list --count main) commits, ${packmb} MB packed"
}

big_builder() {	# name
	local scripts
	scripts=$(mktemp -d -p "$S2I_TMP")
	printf '#!/bin/sh\nset -e\ncp -a /tmp/src/. ./\necho "files: $(find . -type f | wc -l)"\n' >"$scripts/assemble"
	printf '#!/bin/sh\nexec ls\n' >"$scripts/run"
	chmod 755 "$scripts"/*
	s2i_builder "$1" --scripts "$scripts"
}

big_change() {	# worktree
	echo "$RANDOM-$(date +%s.%N)" >"$1/src/m01/p1/f00001.c"
	s2i_commit_all "$1" "one change"
}
