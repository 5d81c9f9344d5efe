/* httpc: the one libcurl HTTP client of the commands (forge statuses, the hook's
 * notify, s2i script downloads and callbacks): options set and checked once. */
#ifndef S2I_HTTPC_H
#define S2I_HTTPC_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Receives the answer's body as it arrives (instead of httpc_answer.body):
 * 0 to go on, -1 to end the transfer (httpc_perform then fails). */
typedef int (*httpc_sink_fn)(void *arg, const char *p, size_t n);
/* Polled while the transfer runs: nonzero ends it (httpc_perform fails with
 * "canceled"). */
typedef int (*httpc_abort_fn)(void *arg);

struct httpc_req {
	const char *url;		/* http:// or https:// only, also after a redirect */
	const char *body;		/* POSTed (NUL-terminated); NULL: GET */
	char *const *headers;		/* NULL-terminated "Name: value" lines, or NULL */
	long timeout;			/* seconds for the whole exchange; 0: none (streams) */
	long connect_timeout;		/* seconds; 0: libcurl's default (300) */
	long max_redirects;		/* redirects followed; 0: none (a redirect could
					 * carry a token to another host) */
	int fail_on_error;		/* an HTTP code >= 400 is a failure, not an answer */
	size_t body_max;		/* bytes of the answer's body kept */
	int body_max_fails;		/* 1: a longer body fails (body_cut set);
					 * 0: the rest is read and dropped */
	httpc_sink_fn sink;		/* NULL: the body goes to httpc_answer.body */
	void *sink_arg;
	httpc_abort_fn abort;		/* NULL: never */
	void *abort_arg;
};

#define HTTPC_REQ_INIT { NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL }

struct httpc_answer {
	long code;			/* the HTTP status; 0 when no answer came */
	struct buf body;		/* at most req.body_max bytes */
	int body_cut;			/* the body was longer than req.body_max */
	struct strv headers;		/* the final answer's "Name: value" lines */
	int setup_failed;		/* libcurl refused an option: retrying will not help */
};

#define HTTPC_ANSWER_INIT { 0, BUF_INIT(0), 0, STRV_INIT, 0 }

/* Once per process, before the first request (libcurl's global state). */
int httpc_global_init(struct err *e);
void httpc_global_cleanup(void);

/* Sends r. 0 when an answer came (any code, unless r->fail_on_error), with a
 * filled; -1 otherwise with e saying why in libcurl's words (no method or URL:
 * the caller prefixes what it was doing) and a->code the code if one came. */
int httpc_perform(const struct httpc_req *r, struct httpc_answer *a, struct err *e);
void httpc_answer_release(struct httpc_answer *a);

/* The value of the answer's first header name (case-insensitive), blanks
 * trimmed and cut to valsz - 1 bytes, in val; NULL when absent. */
const char *httpc_header(char *const *headers, const char *name, char *val, size_t valsz);

#endif
