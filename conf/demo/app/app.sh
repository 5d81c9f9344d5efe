#!/bin/sh
# The demo "web app": prints its greeting, or serves it with busybox httpd
# (docker run --network host IMAGE serve 8000, then curl http://127.0.0.1:8000/).
greeting=$(cat message.txt)
if [ "${1:-}" = serve ]; then
	mkdir -p /tmp/www && printf '%s\n' "$greeting" >/tmp/www/index.html
	echo "serving on 127.0.0.1:${2:-8000}"
	exec httpd -f -p "127.0.0.1:${2:-8000}" -h /tmp/www
fi
echo "$greeting"
echo "($(cat .built 2>/dev/null | sed 's/^---> //'))"
