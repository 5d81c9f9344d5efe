/* engine over tcp:// and tcp+TLS with client certificates, against the real
 * engine: socat listens on 127.0.0.1 (random port), terminates TLS (requiring a
 * client certificate from our test CA) and forwards to the engine's unix socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "runfixture.h"
#include "engine.h"
#include "enginefixture.h"

static struct {
	char dir[64];
	char sock[256];		/* the engine's unix socket */
	int plain_port, tls_port;
	struct child plain, tls;
} g;

static void check(int rv, const struct err *e)
{
	if (rv < 0)
		fail_msg("%s", e->msg);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static char *path(const char *name)
{
	static char p[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", g.dir, name);
	return p[i];
}

static int openssl(const char *const *argv)
{
	struct err e = ERR_INIT;
	int status = rf_run_quiet(argv, &e);

	if (status != 0) {
		fprintf(stderr, "%s failed: %s (status %d)\n", argv[1], e.msg, status);
		return -1;
	}
	return 0;
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, and a
 * second CA the server does not know. */
static int make_certs(void)
{
	FILE *f;
	const char *ca[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			     "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2",
			     "-subj", "/CN=s2i-agent test CA", NULL };
	const char *other[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
				"-nodes", "-keyout", path("other.key"), "-out", path("other.pem"), "-days", "2",
				"-subj", "/CN=another CA", NULL };
	const char *names[] = { "server", "client" };
	int i;

	f = fopen(path("server.ext"), "w");
	if (!f)
		return -1;
	fputs("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", f);
	fclose(f);
	f = fopen(path("client.ext"), "w");
	if (!f)
		return -1;
	fputs("extendedKeyUsage=clientAuth\n", f);
	fclose(f);
	if (openssl(ca) < 0 || openssl(other) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		char key[64], csr[64], pem[64], ext[64], subj[64];

		snprintf(key, sizeof(key), "%s.key", names[i]);
		snprintf(csr, sizeof(csr), "%s.csr", names[i]);
		snprintf(pem, sizeof(pem), "%s.pem", names[i]);
		snprintf(ext, sizeof(ext), "%s.ext", names[i]);
		snprintf(subj, sizeof(subj), "/CN=%s", i ? "s2i-agent" : "127.0.0.1");
		{
			char k[256], c[256], p[256], x[256];
			const char *req[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt",
					      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", k, "-out", c,
					      "-subj", subj, NULL };
			const char *sign[] = { "openssl", "x509", "-req", "-in", c, "-CA", path("ca.pem"), "-CAkey",
					       path("ca.key"), "-CAcreateserial", "-out", p, "-days", "2",
					       "-extfile", x, NULL };

			snprintf(k, sizeof(k), "%s", path(key));
			snprintf(c, sizeof(c), "%s", path(csr));
			snprintf(p, sizeof(p), "%s", path(pem));
			snprintf(x, sizeof(x), "%s", path(ext));
			if (openssl(req) < 0 || openssl(sign) < 0)
				return -1;
		}
	}
	return 0;
}

static int start_socat(struct child *c, const char *listen)
{
	char target[300];
	const char *argv[] = { "socat", listen, target, NULL };
	struct err e = ERR_INIT;

	snprintf(target, sizeof(target), "UNIX-CONNECT:%s", g.sock);
	*c = (struct child)CHILD_INIT;
	c->argv = argv;
	c->out = CHILD_NULL;
	c->new_pgrp = 1;
	if (child_start(c, &e) < 0) {
		fprintf(stderr, "socat: %s\n", e.msg);
		return -1;
	}
	c->argv = NULL;		/* argv was on our stack */
	return 0;
}

static void stop(struct child *c)
{
	struct err e = ERR_INIT;
	int status;

	if (c->pid <= 0)
		return;
	kill(-c->pid, SIGTERM);
	c->argv = (const char *const[]){ "socat", NULL };
	child_finish(c, &status, &e);
	c->pid = -1;
}

/* The listener is up when a plain connect succeeds. */
static int wait_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int i, fd, ok;

	a.sin_port = htons((uint16_t)port);
	for (i = 0; i < 100; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return 0;
		usleep(50000);
	}
	return -1;
}

static int setup(void **state)
{
	const char *url = ef_engine_url();
	char listen[512];

	(void)state;
	snprintf(g.dir, sizeof(g.dir), "/tmp/s2i-agent-engine-tls.XXXXXX");
	if (!mkdtemp(g.dir))
		return -1;
	snprintf(g.sock, sizeof(g.sock), "%s",
		 url && !strncmp(url, "unix://", 7) ? url + 7 : "/var/run/docker.sock");
	if (make_certs() < 0)
		return -1;
	g.plain_port = free_port();
	snprintf(listen, sizeof(listen), "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", g.plain_port);
	if (start_socat(&g.plain, listen) < 0 || wait_port(g.plain_port) < 0)
		return -1;
	g.tls_port = free_port();
	snprintf(listen, sizeof(listen),
		 "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,cert=%s,key=%s,cafile=%s,verify=1",
		 g.tls_port, path("server.pem"), path("server.key"), path("ca.pem"));
	if (start_socat(&g.tls, listen) < 0 || wait_port(g.tls_port) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", g.dir, NULL };
	struct err e = ERR_INIT;

	(void)state;
	stop(&g.plain);
	stop(&g.tls);
	return child_run(argv, &e);
}

static void test_tcp_plain(void **state)
{
	struct engine_version v;
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct err e = ERR_INIT;
	char url[64];
	struct engine *eng;

	(void)state;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", g.plain_port);
	eng = engine_new(url, NULL, &e);
	assert_non_null(eng);
	check(engine_ping(eng, &e), &e);
	check(engine_version(eng, &v, &e), &e);
	check(engine_image_inspect(eng, "s2i-agent-test/base:latest", &img, &e), &e);
	engine_image_release(&img);
	engine_free(eng);
}

static void test_tls_client_cert(void **state)
{
	struct engine_tls tls = { path("ca.pem"), path("client.pem"), path("client.key") };
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct strv ids = STRV_INIT;
	struct err e = ERR_INIT;
	char url[64];
	struct engine *eng;

	(void)state;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", g.tls_port);
	eng = engine_new(url, &tls, &e);
	assert_non_null(eng);
	check(engine_ping(eng, &e), &e);
	check(engine_image_inspect(eng, "s2i-agent-test/base:latest", &img, &e), &e);
	check(engine_container_list(eng, "io.s2i-agent.build=none-such", &ids, &e), &e);
	assert_int_equal(ids.n, 0);
	engine_image_release(&img);
	engine_free(eng);

	/* the same through the docker CLI's environment variables */
	setenv("DOCKER_HOST", url, 1);
	setenv("DOCKER_TLS_VERIFY", "1", 1);
	setenv("DOCKER_CERT_PATH", g.dir, 1);
	{
		/* DOCKER_CERT_PATH wants cert.pem and key.pem */
		const char *cp1[] = { "cp", path("client.pem"), path("cert.pem"), NULL };
		const char *cp2[] = { "cp", path("client.key"), path("key.pem"), NULL };

		check(child_run(cp1, &e), &e);
		check(child_run(cp2, &e), &e);
	}
	eng = engine_new_from_env(NULL, &e);
	assert_non_null(eng);
	check(engine_ping(eng, &e), &e);
	engine_free(eng);
	unsetenv("DOCKER_HOST");
	unsetenv("DOCKER_TLS_VERIFY");
	unsetenv("DOCKER_CERT_PATH");
}

static void test_tls_refusals(void **state)
{
	struct engine_tls no_cert = { path("ca.pem"), NULL, NULL };
	struct engine_tls wrong_ca = { path("other.pem"), path("client.pem"), path("client.key") };
	struct engine_tls missing = { path("ca.pem"), path("nope.pem"), path("client.key") };
	struct err e = ERR_INIT;
	char url[64];
	struct engine *eng;

	(void)state;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", g.tls_port);
	/* the server wants a client certificate */
	eng = engine_new(url, &no_cert, &e);
	assert_non_null(eng);
	assert_int_equal(engine_ping(eng, &e), -1);
	assert_int_equal(engine_status(eng), ENGINE_NO_ANSWER);
	fprintf(stderr, "without a client certificate: %s\n", e.msg);
	engine_free(eng);
	/* we do not trust a server signed by another CA */
	eng = engine_new(url, &wrong_ca, &e);
	assert_int_equal(engine_ping(eng, &e), -1);
	fprintf(stderr, "with the wrong CA: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "127.0.0.1"));
	engine_free(eng);
	/* a missing certificate file */
	eng = engine_new(url, &missing, &e);
	assert_int_equal(engine_ping(eng, &e), -1);
	fprintf(stderr, "with a missing certificate: %s\n", e.msg);
	engine_free(eng);
	/* plain HTTP to the TLS port fails too */
	eng = engine_new(url, NULL, &e);
	assert_int_equal(engine_ping(eng, &e), -1);
	engine_free(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_plain),
		cmocka_unit_test(test_tls_client_cert),
		cmocka_unit_test(test_tls_refusals),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
