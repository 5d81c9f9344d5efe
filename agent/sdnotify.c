/* sdnotify: the datagram protocol behind systemd's Type=notify. The socket is a
 * path or, after '@', an abstract name; a fresh socket per message keeps no state. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

int sdnotify(const char *state, struct err *e)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { 0 };
	socklen_t len;
	size_t n;
	int fd, rc = 0;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path))
		return err_set(e, "NOTIFY_SOCKET '%s': not a socket path", path);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace: no trailing NUL counted */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, "NOTIFY_SOCKET '%s'", path);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
		rc = err_errno(e, "NOTIFY_SOCKET '%s'", path);
	close(fd);
	return rc;
}

int sdnotify_reloading(struct err *e)
{
	struct timespec ts;
	char msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	return sdnotify(msg, e);
}

int sdnotify_watchdog_usec(unsigned long long *ret_usec)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || !*usec)
		return 0;
	if (pid && *pid) {
		long p = strtol(pid, &end, 10);

		if (*end || p != (long)getpid())
			return 0;
	}
	v = strtoull(usec, &end, 10);
	if (*end || v == 0)
		return 0;
	*ret_usec = v;
	return 1;
}
