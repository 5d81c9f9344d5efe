/* Fuzz target: webhook provider detection, signature verification and push
 * parsing, for every provider and both body encodings.
 * The first input byte picks provider, content type and whether the body is
 * signed correctly (so the parser behind the signature check is reached). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "codec.h"
#include "digest.h"
#include "webhook.h"

struct hdrs {
	const char *names[8];
	const char *values[8];
	int n;
};

static const char *hdr_get(void *ctx, const char *name)
{
	struct hdrs *h = ctx;
	int i;

	for (i = 0; i < h->n; i++)
		if (!strcasecmp(h->names[i], name))
			return h->values[i];
	return NULL;
}

static void hdr_add(struct hdrs *h, const char *n, const char *v)
{
	h->names[h->n] = n;
	h->values[h->n] = v;
	h->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char secret1[] = "fuzz-secret", secret2[] = "previous-secret";
	char *secrets[2] = { secret1, secret2 };
	struct webhook_request r;
	struct webhook_event ev = WEBHOOK_EVENT_INIT;
	struct repo_conf repo;
	struct hdrs h = { .n = 0 };
	struct err e = ERR_INIT;
	unsigned char mac[32];
	char hex[80], sig[100];
	uint8_t sel;
	enum provider p;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	/* bit 32: the pull/merge request events instead of pushes */
	switch (sel & 3) {
	case 0: hdr_add(&h, "X-GitHub-Event", (sel & 32) ? "pull_request" : (sel & 16) ? "ping" : "push"); break;
	case 1: hdr_add(&h, "X-Gitlab-Event", (sel & 32) ? "Merge Request Hook" :
			(sel & 16) ? "Tag Push Hook" : "Push Hook"); break;
	case 2: hdr_add(&h, "X-Gitea-Event", (sel & 32) ? "pull_request" : "push"); break;
	default: break;
	}
	hdr_add(&h, "Content-Type", (sel & 4) ? "application/x-www-form-urlencoded" : "application/json");
	hdr_add(&h, "X-GitHub-Delivery", "d-1");
	if (sel & 8) {
		/* a correct signature over the raw body (the form case of Gitea is
		 * signed over decoded JSON, so it exercises the mismatch path) */
		digest_hmac_sha256(secret1, strlen(secret1), data, size, mac);
		codec_hex_encode(mac, sizeof(mac), hex);
		snprintf(sig, sizeof(sig), "sha256=%s", hex);
		hdr_add(&h, "X-Hub-Signature-256", sig);
		hdr_add(&h, "X-Gitlab-Token", secret1);
	} else {
		hdr_add(&h, "X-Hub-Signature-256", "sha256=00");
		hdr_add(&h, "webhook-id", "msg_1");
		hdr_add(&h, "webhook-timestamp", "1700000000");
		hdr_add(&h, "webhook-signature", "v1,AAAA v1,=");
	}
	memset(&r, 0, sizeof(r));
	r.header = hdr_get;
	r.header_ctx = &h;
	r.body = (const char *)data;
	r.body_len = size;
	r.now = 1700000000;
	p = webhook_provider(&r);
	(void)webhook_verify(&r, p, secrets, 2, &e);
	/* parse regardless of the verdict: the parser must stand any input */
	if (webhook_parse(&r, p, &ev, &e) == 0) {
		memset(&repo, 0, sizeof(repo));
		repo.branches = (struct strv)STRV_INIT;
		repo.tags = (struct strv)STRV_INIT;
		strv_push(&repo.branches, "main");
		strv_push(&repo.branches, "release/*");
		strv_push(&repo.tags, "v*");
		/* bit 64: requests built (from forks too) */
		repo.pull_requests = (sel & 64) ? xstrdup("all") : NULL;
		webhook_match(&repo, &ev);
		free(repo.pull_requests);
		strv_clear(&repo.branches);
		strv_clear(&repo.tags);
	}
	webhook_event_release(&ev);
	return 0;
}
