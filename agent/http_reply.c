/* http_reply: how every answer leaves: common headers, JSON and error bodies, 405, 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http_int.h"

/* Every answer leaves here: b is its body (NULL: none), freed. */
void http_send_buf(struct evhttp_request *req, int code, const char *type, struct evbuffer *b)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *reason;

	evhttp_add_header(out, "Content-Type", type);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Cache-Control", "no-store");
	switch (code) {
	case 200: reason = "OK"; break;
	case 202: reason = "Accepted"; break;
	case 303: reason = "See Other"; break;
	case 400: reason = "Bad Request"; break;
	case 401: reason = "Unauthorized"; break;
	case 403: reason = "Forbidden"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 409: reason = "Conflict"; break;
	case 411: reason = "Length Required"; break;
	case 413: reason = "Payload Too Large"; break;
	case 421: reason = "Misdirected Request"; break;
	case 431: reason = "Request Header Fields Too Large"; break;
	case 500: reason = "Internal Server Error"; break;
	case 501: reason = "Not Implemented"; break;
	case 503: reason = "Service Unavailable"; break;
	default: reason = NULL; break;
	}
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

void http_send(struct evhttp_request *req, int code, const char *type, const char *body,
	       size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b && len)
		evbuffer_add(b, body, len);
	http_send_buf(req, code, type, b);
}

void http_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (!s) {
		http_send(req, 500, "application/json", "{\"error\":\"cannot render JSON\"}\n", 30);
		return;
	}
	/* one line per answer reads better in a terminal and costs one byte */
	{
		size_t n = strlen(s);

		s[n] = '\n';
		http_send(req, code, "application/json", s, n + 1);
		s[n] = '\0';
	}
	free(s);
}

void http_reply_error(struct evhttp_request *req, int code, const char *msg)
{
	http_reply_json(req, code, json_pack("{ss}", "error", msg));
}

void http_reply_retry(struct evhttp_request *req, const char *msg)
{
	char secs[16];

	snprintf(secs, sizeof(secs), "%d", RETRY_AFTER_SECONDS);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", secs);
	http_reply_error(req, 503, msg);
}

void http_reply_405(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	http_reply_error(req, 405, "method not allowed");
}
