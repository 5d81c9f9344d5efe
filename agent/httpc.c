/* httpc: one libcurl easy request with every option checked: http(s) only,
 * certificates verified, timeouts, no signals, a capped body, the final headers. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "httpc.h"
#include "limits.h"

struct httpc_xfer {
	const struct httpc_req *r;
	struct httpc_answer *a;
	int sink_failed;
};

static size_t httpc_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct httpc_xfer *x = arg;
	struct httpc_answer *a = x->a;
	size_t n = size * nmemb, room = x->r->body_max - a->body.len;

	if (x->r->sink) {
		if (x->r->sink(x->r->sink_arg, p, n) < 0) {
			x->sink_failed = 1;
			return 0;
		}
		return n;
	}
	if (n > room) {
		a->body_cut = 1;
		if (x->r->body_max_fails)
			return 0;
	}
	buf_add(&a->body, p, n < room ? n : room);
	return n;
}

static size_t httpc_on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct httpc_xfer *x = arg;
	size_t n = size * nmemb, len = n;

	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {	/* a new answer (after 100 or a redirect) */
		strv_clear(&x->a->headers);
		return n;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (len > 0 && len < HTTPC_HEADER_MAX && x->a->headers.n < HTTPC_HEADERS_MAX)
		strv_push_nodup(&x->a->headers, xstrndup(p, len));
	return n;
}

static int httpc_on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct httpc_xfer *x = arg;

	(void)dt; (void)dn; (void)ut; (void)un;
	return x->r->abort(x->r->abort_arg);
}

int httpc_global_init(struct err *e)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, "cannot initialise libcurl");
	return 0;
}

void httpc_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Every option, stopping at the first libcurl refuses (an old libcurl, a
 * protocol it was built without): a request must never go out half set up. */
static CURLcode httpc_setup(CURL *h, struct httpc_xfer *x, struct curl_slist *hl, char *cerr)
{
	const struct httpc_req *r = x->r;
	CURLcode rc;

	rc = curl_easy_setopt(h, CURLOPT_URL, r->url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, r->max_redirects > 0 ? 1L : 0L);
	if (rc == CURLE_OK && r->max_redirects > 0)
		rc = curl_easy_setopt(h, CURLOPT_MAXREDIRS, r->max_redirects);
	/* libcurl's defaults, stated so no build or environment can loosen them */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (rc == CURLE_OK && r->body)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
	if (rc == CURLE_OK && r->body)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	if (rc == CURLE_OK && r->timeout > 0)
		rc = curl_easy_setopt(h, CURLOPT_TIMEOUT, r->timeout);
	if (rc == CURLE_OK && r->connect_timeout > 0)
		rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, r->connect_timeout);
	if (rc == CURLE_OK)	/* no SIGALRM for name lookups: the commands run threads */
		rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK && r->fail_on_error)
		rc = curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, httpc_on_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, httpc_on_header);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	if (rc == CURLE_OK && r->abort)
		rc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (rc == CURLE_OK && r->abort)
		rc = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, httpc_on_progress);
	if (rc == CURLE_OK && r->abort)
		rc = curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	return rc;
}

int httpc_perform(const struct httpc_req *r, struct httpc_answer *a, struct err *e)
{
	struct httpc_xfer x = { r, a, 0 };
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL, *t;
	char *const *hp;
	CURL *h = NULL;
	CURLcode rc;
	int rv = -1;

	httpc_answer_release(a);
	a->body.max = r->body_max;
	h = curl_easy_init();
	if (!h)
		return err_set(e, "cannot initialise libcurl");
	for (hp = r->headers; hp && *hp; hp++) {
		t = curl_slist_append(hl, *hp);
		if (!t) {
			err_set(e, "out of memory");
			goto out;
		}
		hl = t;
	}
	if (r->body) {	/* no 100-continue round trip before the body */
		t = curl_slist_append(hl, "Expect:");
		if (t)
			hl = t;
	}
	rc = httpc_setup(h, &x, hl, cerr);
	if (rc != CURLE_OK) {
		a->setup_failed = 1;
		err_set(e, "%s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->code) != CURLE_OK)
		a->code = 0;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		err_set(e, "canceled");
	else if (rc == CURLE_WRITE_ERROR && a->body_cut)
		err_set(e, "the answer is larger than %zu bytes", r->body_max);
	else if (rc == CURLE_WRITE_ERROR && x.sink_failed)
		err_set(e, "the answer could not be taken");
	else if (rc != CURLE_OK)
		err_set(e, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	else
		rv = 0;
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return rv;
}

void httpc_answer_release(struct httpc_answer *a)
{
	a->code = 0;
	a->body_cut = 0;
	a->setup_failed = 0;
	buf_release(&a->body);
	strv_clear(&a->headers);
}

const char *httpc_header(char *const *headers, const char *name, char *val, size_t valsz)
{
	size_t n = strlen(name), len;
	const char *v;

	if (!headers)
		return NULL;
	for (; *headers; headers++) {
		if (strncasecmp(*headers, name, n) || (*headers)[n] != ':')
			continue;
		v = *headers + n + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		len = strlen(v);
		while (len > 0 && isspace((unsigned char)v[len - 1]))
			len--;
		if (len >= valsz)
			len = valsz - 1;
		memcpy(val, v, len);
		val[len] = '\0';
		return val;
	}
	return NULL;
}
