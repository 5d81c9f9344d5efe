/* http_health: /healthz (the database, a probe of the engine's socket) and /metrics.
 * Metrics: deliveries, builds by state, queue, connections, process figures from /proc. */
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "http_int.h"

int http_engine_probe(const char *engine, struct err *e)
{
	struct addrinfo hints = { 0 }, *ai = NULL, *a;
	struct sockaddr_un sun = { 0 };
	char host[256], *colon;
	const char *hp;
	int fd = -1, rc = -1;

	if (!strncmp(engine, "unix://", 7)) {
		if (strlen(engine + 7) >= sizeof(sun.sun_path))
			return err_set(e, "engine '%s': socket path too long", engine);
		sun.sun_family = AF_UNIX;
		strcpy(sun.sun_path, engine + 7);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return err_errno(e, "engine '%s'", engine);
		/* a unix connect() completes or fails at once, but blocks while the engine's
		 * accept queue is full (a frozen engine): non-blocking, that is EAGAIN */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			rc = 0;
		else if (errno == EAGAIN)
			err_set(e, "engine '%s': does not accept connections (frozen or overloaded)", engine);
		else
			err_errno(e, "engine '%s'", engine);
		close(fd);
		return rc;
	}
	if (strncmp(engine, "tcp://", 6))
		return err_set(e, "engine '%s': unsupported URL", engine);
	hp = engine + 6;
	snprintf(host, sizeof(host), "%s", hp);
	host[strcspn(host, "/")] = '\0';
	colon = strrchr(host, ':');
	if (!colon)
		return err_set(e, "engine '%s': no port", engine);
	*colon = '\0';
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host[0] == '[' ? host + 1 : host, colon + 1, &hints, &ai)) {
		return err_set(e, "engine '%s': cannot resolve", engine);
	}
	if (host[0] == '[')
		host[strlen(host) - 1] = '\0';
	for (a = ai; a && rc < 0; a = a->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			rc = 0;
		} else if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, HTTP_ENGINE_CHECK_MS) == 1 &&
			    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr)
				rc = 0;
			else
				err_set(e, "engine '%s': cannot connect", engine);
		} else {
			err_errno(e, "engine '%s'", engine);
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

/* GET path from the engine at a unix socket, the whole answer within
 * HTTP_ENGINE_CHECK_MS per read: 0 with *ret_body (in ans) and *ret_len, -1 when
 * there is no answer. */
static int http_engine_get(const char *engine, const char *path, char *ans, size_t cap,
			   const char **ret_body, size_t *ret_len)
{
	struct sockaddr_un sun = { 0 };
	struct pollfd pfd;
	char rq[256], *body;
	size_t got = 0;
	ssize_t n;
	int fd, len, rv = -1;

	len = snprintf(rq, sizeof(rq), "GET %s HTTP/1.0\r\nHost: engine\r\n\r\n", path);
	if (strncmp(engine, "unix://", 7) || strlen(engine + 7) >= sizeof(sun.sun_path) ||
	    len < 0 || (size_t)len >= sizeof(rq))
		return -1;
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, engine + 7);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, rq, (size_t)len) != len)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < cap - 1 && poll(&pfd, 1, HTTP_ENGINE_CHECK_MS) == 1 &&
	       (n = read(fd, ans + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	ans[got] = '\0';
	if ((body = strstr(ans, "\r\n\r\n"))) {
		*ret_body = body + 4;
		*ret_len = got - (size_t)(body + 4 - ans);
		rv = 0;
	}
out:
	if (fd >= 0)
		close(fd);
	return rv;
}

/* Does the engine at a unix socket speak an API version we speak? GET /version within
 * HTTP_ENGINE_CHECK_MS, judged by engine_api_judge; -1 only for ranges that do not
 * overlap (no answer is http_engine_probe's business). Asked again only after
 * ENGINE_CHECK_INTERVAL unless the last answer was a refusal, so a frozen engine
 * costs the loop that wait once a minute, not at every probe. */
static int http_engine_api(const char *engine, struct err *e)
{
	static char last_url[256];
	static time_t last_at;
	char ans[16384];
	const char *body;
	size_t len;
	time_t now = time(NULL);
	int rv = 0;

	if (strncmp(engine, "unix://", 7) ||
	    (last_at && now - last_at < ENGINE_CHECK_INTERVAL && now >= last_at && !strcmp(last_url, engine)))
		return 0;
	if (http_engine_get(engine, "/version", ans, sizeof(ans), &body, &len) == 0)
		rv = engine_api_judge(body, len, e) < 0 ? -1 : 0;
	/* a refusal is asked again at the next probe: the engine may be upgraded */
	snprintf(last_url, sizeof(last_url), "%s", engine);
	last_at = rv < 0 ? 0 : now;
	return rv;
}

int http_engine_root_dir(const char *engine, char *out, size_t n, struct err *e)
{
	static char ans[HTTP_ENGINE_INFO_MAX];	/* the loop's only */
	const char *body;
	size_t len;

	if (strncmp(engine, "unix://", 7))
		return err_set(e, "engine '%s' is not local", engine);
	if (http_engine_get(engine, "/info", ans, sizeof(ans), &body, &len) < 0)
		return err_set(e, "engine '%s': no answer to /info", engine);
	return engine_api_root_dir(body, len, out, n, e);
}

int http_default_engine_check(void *ctx, struct err *e)
{
	struct http *h = ctx;

	if (http_engine_probe(h->h_cfg->engine, e) < 0)
		return -1;
	/* it answers: in an API range we speak? */
	return http_engine_api(h->h_cfg->engine, e);
}

void http_health_healthz(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct buf out = BUF_INIT(4096);
	struct err e = ERR_INIT, he = ERR_INIT;
	time_t now = time(NULL);
	/* open to load balancers; why it fails (paths, addresses) only to readers */
	int ok = 1, why = http_access_reader_req(h, req);

	(void)m;
	if (store_ping(h->h_store, &e) < 0) {
		buf_addf(&out, "database: %s\n", why ? e.msg : "unavailable");
		ok = 0;
	}
	if (!h->h_engine_checked || now - h->h_engine_checked >= HTTP_ENGINE_CACHE_SECONDS ||
	    now < h->h_engine_checked) {
		struct err ee = ERR_INIT;

		h->h_engine_ok = h->h_engine_fn(h->h_engine_ctx, &ee) == 0;
		snprintf(h->h_engine_msg, sizeof(h->h_engine_msg), "%s", ee.msg);
		h->h_engine_checked = now;
	}
	if (!h->h_engine_ok) {
		buf_addf(&out, "engine: %s\n", why ? h->h_engine_msg : "unavailable");
		ok = 0;
	}
	if (h->h_health_fn && h->h_health_fn(h->h_pipeline_ctx, &he) < 0) {
		buf_addf(&out, "builds: %s\n", why ? he.msg : "waiting for free space");
		ok = 0;
	}
	if (ok)
		http_send(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
	else
		http_send(req, 503, "text/plain; charset=utf-8", out.data, out.len);
	buf_release(&out);
}

/* Cheap process metrics from /proc/self: RSS, open fds, CPU time. */
static void http_process_metrics(struct http *h, struct buf *o)
{
	long long rss = -1, fds = -1;
	struct rusage ru;
	struct dirent *d;
	DIR *dir;
	FILE *f;

	f = fopen("/proc/self/statm", "re");
	if (f) {
		long long size, res;

		if (fscanf(f, "%lld %lld", &size, &res) == 2)
			rss = res * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		buf_addf(o, "# HELP process_cpu_seconds_total User and system CPU time.\n"
			 "# TYPE process_cpu_seconds_total counter\n"
			 "process_cpu_seconds_total %.3f\n",
			 ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (rss >= 0)
		buf_addf(o, "# HELP process_resident_memory_bytes Resident memory size.\n"
			 "# TYPE process_resident_memory_bytes gauge\n"
			 "process_resident_memory_bytes %lld\n", rss);
	dir = opendir("/proc/self/fd");
	if (dir) {
		fds = 0;
		while ((d = readdir(dir)))
			if (d->d_name[0] != '.')
				fds++;
		closedir(dir);
		buf_addf(o, "# HELP process_open_fds Open file descriptors.\n"
			 "# TYPE process_open_fds gauge\nprocess_open_fds %lld\n", fds - 1);
	}
	buf_addf(o, "# HELP process_start_time_seconds Start time since the epoch.\n"
		 "# TYPE process_start_time_seconds gauge\n"
		 "process_start_time_seconds %lld\n", (long long)h->h_started);
}

void http_health_metrics(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct buf o = BUF_INIT(4 * 1024 * 1024);
	long long counts[BUILD_NSTATES], depth;
	int r;

	(void)m;
	http_intake_metrics(h, &o);
	store_count_states(h->h_store, counts, NULL);
	buf_addstr(&o, "# HELP s2i_agent_builds Builds in the database by state.\n"
		   "# TYPE s2i_agent_builds gauge\n");
	for (r = 0; r < BUILD_NSTATES; r++)
		buf_addf(&o, "s2i_agent_builds{state=\"%s\"} %lld\n",
			 store_state_name((enum build_state)r), counts[r]);
	store_queue_depth(h->h_store, &depth, NULL);
	buf_addf(&o, "# HELP s2i_agent_queue_depth Builds waiting for a worker.\n"
		 "# TYPE s2i_agent_queue_depth gauge\ns2i_agent_queue_depth %lld\n", depth);
	buf_addf(&o, "# HELP s2i_agent_http_connections Open client connections.\n"
		 "# TYPE s2i_agent_http_connections gauge\ns2i_agent_http_connections %zu\n"
		 "# HELP s2i_agent_http_connections_cut_total Connections closed because no "
		 "complete request arrived within %d s.\n"
		 "# TYPE s2i_agent_http_connections_cut_total counter\n"
		 "s2i_agent_http_connections_cut_total %llu\n"
		 "# HELP s2i_agent_http_requests_refused_total Requests answered from their head, "
		 "before their body was read.\n"
		 "# TYPE s2i_agent_http_requests_refused_total counter\n"
		 "s2i_agent_http_requests_refused_total %llu\n", h->h_nconns,
		 HTTP_REQUEST_DEADLINE, h->h_cut, h->h_refused);
	if (h->h_metrics_fn)
		h->h_metrics_fn(h->h_pipeline_ctx, &o);
	http_process_metrics(h, &o);
	http_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.data, o.len);
	buf_release(&o);
}
