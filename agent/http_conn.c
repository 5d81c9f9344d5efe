/* http_conn: client connections and the request deadline.
 * Each connection must deliver a whole request within HTTP_REQUEST_DEADLINE, however
 * slowly it sends. */
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"
#include "log.h"

/* evhttp's own timeouts restart at every read, so a client sending one byte at a time
 * would never be cut: each connection must deliver a complete request within
 * HTTP_REQUEST_DEADLINE of its opening or of the previous answer. */

static time_t http_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static size_t http_conn_bucket(const struct bufferevent *bev)
{
	uintptr_t v = (uintptr_t)bev;

	return (size_t)((v >> 4) ^ (v >> 13)) % HTTP_CONN_BUCKETS;
}

static struct http_conn *http_conn_find(struct http *h, const struct bufferevent *bev)
{
	struct http_conn *c;

	for (c = h->h_chash[http_conn_bucket(bev)]; c; c = c->c_hnext)
		if (c->c_bev == bev)
			return c;
	return NULL;
}

static void http_conn_drop(struct http *h, struct http_conn *c)
{
	struct http_conn **pp;

	for (pp = &h->h_chash[http_conn_bucket(c->c_bev)]; *pp; pp = &(*pp)->c_hnext)
		if (*pp == c) {
			*pp = c->c_hnext;
			break;
		}
	if (c->c_prev)
		c->c_prev->c_next = c->c_next;
	else
		h->h_conns = c->c_next;
	if (c->c_next)
		c->c_next->c_prev = c->c_prev;
	h->h_nconns--;
	http_gate_release(c);
	bufferevent_decref(c->c_bev);	/* the last reference closes the fd */
	free(c);
}

/* Many connections come and go (a flood): once they are all gone, the memory their
 * buffers took goes back to the system instead of staying in the allocator's free lists. */
static void http_conn_trim(struct http *h)
{
	if (h->h_nconns > h->h_conns_peak)
		h->h_conns_peak = h->h_nconns;
	if (h->h_nconns <= HTTP_TRIM_BELOW && h->h_conns_peak >= HTTP_TRIM_AFTER) {
		h->h_conns_peak = h->h_nconns;
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
}

static void http_sweep_arm(struct http *h)
{
	struct timeval tv = { HTTP_SWEEP_SECONDS, 0 };

	if (h->h_conns && !evtimer_pending(h->h_sweep, NULL))
		evtimer_add(h->h_sweep, &tv);
}

/* evhttp gave this connection up (freed it, which clears the callbacks). */
static int http_conn_gone(struct http_conn *c)
{
	bufferevent_data_cb rd;
	bufferevent_event_cb ev;

	bufferevent_getcb(c->c_bev, &rd, NULL, &ev, NULL);
	return !rd && !ev;
}

static void http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct http_conn *c, *next;
	time_t now = http_now();

	(void)fd;
	(void)what;
	for (c = h->h_conns; c; c = next) {
		next = c->c_next;
		if (c->c_gone) {
			if (now - c->c_gone_at >= HTTP_LINGER_SECONDS)
				http_conn_drop(h, c);
		} else if (http_conn_gone(c)) {
			http_conn_drop(h, c);
		} else if (!c->c_busy && now - c->c_since >= HTTP_REQUEST_DEADLINE) {
			/* evhttp reads the end of the stream and frees the connection
			 * with its partial request; the next sweep lets go of it */
			int s = bufferevent_getfd(c->c_bev);

			if (s >= 0)
				shutdown(s, SHUT_RDWR);
			c->c_busy = 1;	/* cut once */
			h->h_cut++;
			log_debug("connection cut: no complete request within %d s",
				  HTTP_REQUEST_DEADLINE);
		}
	}
	http_conn_trim(h);
	http_sweep_arm(h);
}

struct bufferevent *http_conn_bev_cb(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct http_conn *c;
	size_t i;

	if (!bev)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->c_h = h;
	c->c_bev = bev;
	c->c_since = http_now();
	bufferevent_incref(bev);
	i = http_conn_bucket(bev);
	c->c_hnext = h->h_chash[i];
	h->h_chash[i] = c;
	c->c_next = h->h_conns;
	if (h->h_conns)
		h->h_conns->c_prev = c;
	h->h_conns = c;
	h->h_nconns++;
	http_gate_attach(c);
	http_sweep_arm(h);
	return bev;
}

static struct http_conn *http_conn_of(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	return evcon ? http_conn_find(h, evhttp_connection_get_bufferevent(evcon)) : NULL;
}

/* evhttp is freeing the connection: it is let go of from h_reap, outside evhttp's
 * callbacks. */
static void http_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http *h = arg;
	struct http_conn *c = http_conn_find(h, evhttp_connection_get_bufferevent(evcon));

	if (c && !c->c_gone) {
		c->c_gone = 1;
		c->c_gone_at = http_now();
		http_gate_release(c);
		event_active(h->h_reap, 0, 0);
	}
}

/* Connections evhttp closed are let go of, but one answered early lingers: what its
 * client still sends of the body is read and dropped (http_gate_run) for
 * HTTP_LINGER_SECONDS, so that closing does not reset the connection before the client
 * read the answer. */
/* The lingering client closed or failed: it can go now. */
static void http_conn_linger_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	(void)what;
	c->c_linger = 2;
	event_active(c->c_h->h_reap, 0, 0);
}

static void http_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct http_conn *c, *next;

	(void)fd;
	(void)what;
	for (c = h->h_conns; c; c = next) {
		next = c->c_next;
		if (!c->c_gone)
			continue;
		if (c->c_verdict.v_code && !c->c_linger) {
			c->c_linger = 1;
			bufferevent_setcb(c->c_bev, NULL, NULL, http_conn_linger_cb, c);
			bufferevent_enable(c->c_bev, EV_READ);
		} else if (!c->c_verdict.v_code || c->c_linger == 2) {
			http_conn_drop(h, c);
		}
	}
	http_conn_trim(h);
}

int http_conn_request(struct http *h, struct evhttp_request *req)
{
	struct http_conn *c = http_conn_of(h, req);

	if (c) {
		c->c_busy = 1;
		http_gate_next(c);
		evhttp_connection_set_closecb(evhttp_request_get_connection(req),
					      http_conn_close_cb, h);
	}
	return c && c->c_gate == HTTP_GATE_REFUSED;
}

const struct http_verdict *http_conn_verdict(struct http *h, struct evhttp_request *req)
{
	static const struct http_verdict none = { 400, "malformed request", 0, 0, NULL, -1, "" };
	struct http_conn *c = http_conn_of(h, req);

	return c ? &c->c_verdict : &none;
}

void http_conn_answered(struct http *h, struct evhttp_request *req)
{
	struct http_conn *c = http_conn_of(h, req);

	if (c) {
		/* the deadline of the next request on this connection starts now */
		c->c_busy = 0;
		c->c_since = http_now();
		http_gate_release(c);
		http_gate_run(c);	/* a head that came with the request */
	}
}

void http_conn_init(struct http *h)
{
	h->h_sweep = evtimer_new(h->h_base, http_sweep_cb, h);
	h->h_reap = event_new(h->h_base, -1, 0, http_reap_cb, h);
}

void http_conn_release(struct http *h)
{
	while (h->h_conns)
		http_conn_drop(h, h->h_conns);
	if (h->h_sweep)
		event_free(h->h_sweep);
	h->h_sweep = NULL;
	if (h->h_reap)
		event_free(h->h_reap);
	h->h_reap = NULL;
}
