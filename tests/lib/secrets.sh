# secrets.sh: proves secrets never leak. secrets_scan DIR searches every file a test left
# under DIR (agent logs, HTTP answers, build logs, the database as bytes and as a dump)
# for every secret and token configured there, and reports hits by the secret's file name.
#
#   secrets_scan DIR   0: nothing found; 1: a hit (printed to stderr as
#                      "secret from NAME found in FILE", never the secret itself)
#   SECRETS_FILES      extra files holding secrets (one per line) besides those found by name
#   SECRETS_SKIP       space-separated base names that may hold secrets by design
#                      (default: forge-double.jsonl, the double's record of Authorization headers)
#
# Secret files are found by name: *.secret, *.token, *secret, *token (a file may hold two
# secrets, one per line, for rotation). Secrets shorter than 8 bytes are not searched
# (they would match by chance).
SECRETS_MIN_LEN=8

secrets_scan() {	# dir
	local dir=$1 f s n rc=0 tmp line hits files
	[ -d "$dir" ] || return 0
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/secrets-scan.XXXXXX") || return 1
	chmod 700 "$tmp"
	# the secret files
	find "$dir" -type f \( -name '*.secret' -o -name '*.token' -o -name '*secret' -o -name '*token' \) \
		-print0 >"$tmp/secret-files"
	for f in ${SECRETS_FILES:-}; do [ -f "$f" ] && printf '%s\0' "$f" >>"$tmp/secret-files"; done
	# everything else, plus a text dump of every SQLite database
	: >"$tmp/scan-files"
	while IFS= read -r -d '' f; do
		grep -qzxF -- "$f" "$tmp/secret-files" && continue
		case " ${SECRETS_SKIP:-forge-double.jsonl} " in *" ${f##*/} "*) continue ;; esac
		printf '%s\0' "$f" >>"$tmp/scan-files"
		case $f in
		*.db)
			n=$(printf '%s' "$f" | md5sum | cut -c1-8)
			sqlite3 -readonly "$f" .dump >"$tmp/dump-$n.sql" 2>/dev/null &&
				printf '%s\0' "$tmp/dump-$n.sql" >>"$tmp/scan-files"
			printf '%s\n' "$f" >"$tmp/dump-$n.name" ;;
		esac
	done < <(find "$dir" -type f -print0)
	files=$(tr -cd '\0' <"$tmp/scan-files" | wc -c)
	n=0
	while IFS= read -r -d '' f; do
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%$'\r'}
			[ -n "$line" ] || continue
			if [ ${#line} -lt $SECRETS_MIN_LEN ]; then
				echo "secrets_scan: not searching a short secret from ${f##*/}" >&2
				continue
			fi
			n=$((n + 1))
			printf '%s\n' "$line" >"$tmp/pattern"
			hits=$(xargs -0 -r grep -a -l -F -f "$tmp/pattern" -- <"$tmp/scan-files" 2>/dev/null)
			[ -n "$hits" ] || continue
			rc=1
			while IFS= read -r s; do
				case $s in "$tmp"/dump-*.sql) s="$(cat "${s%.sql}.name") (sqlite3 .dump)" ;; esac
				echo "LEAK: secret from ${f##*/} found in ${s#"$dir"/}" >&2
			done <<<"$hits"
		done <"$f"
	done <"$tmp/secret-files"
	rm -rf "$tmp"
	SECRETS_SCANNED="$n secrets in $files files"
	return $rc
}
