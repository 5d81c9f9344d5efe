#!/usr/bin/env bash
# benchloop.sh: a bench piece that runs once per engine (tests/bench/s2i.sh, push.sh).
#   [ -n "${S2I_TEST_ENGINE:-}" ] || { bench_each_engine LABEL "ENGINES" "$0"; exit; }
# runs the script again with S2I_TEST_ENGINE set to each engine in turn; returns 0 when
# every run passed, 77 when all of them skipped, else 1.
bench_each_engine() {	# label engines script
	local label=$1 script=$3 engine rc=0 ran=0
	for engine in $2; do
		S2I_TEST_ENGINE=$engine bash "$script"
		case $? in
		0) ran=1 ;;
		77) echo "$label[$engine]: skipped" ;;
		*) rc=1 ;;
		esac
	done
	[ $rc = 0 ] && [ $ran = 0 ] && return 77
	return $rc
}
