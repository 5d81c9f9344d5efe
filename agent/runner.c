/* runner: what the daemon's child processes share: the job protocol, the image name */
/* The children are the hidden commands `__build`, `__status` and `__cleanup`
 * (cmd_*_child.c, worker.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "limits.h"
#include "runner.h"

/* Only the fds we were given stay open: a listening socket of the agent must not
 * outlive it in a build. */
void runner_close_fds(void)
{
	close_range(3, ~0u, 0);
}

json_t *runner_read_job(const char *name, int argc, int nargs)
{
	struct buf b = BUF_INIT(WORKER_JOB_MAX);
	char chunk[8192];
	json_t *j;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0)
			break;
	}
	j = json_loadb(b.data, b.len, 0, NULL);
	buf_release(&b);
	if (j && (!json_is_object(j) || argc != nargs)) {
		json_decref(j);
		j = NULL;
	}
	if (!j)
		fprintf(stderr, "s2i-agent %s: internal command of `s2i-agent serve`\n", name);
	return j;
}

void runner_print(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (s) {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
}

const char *runner_str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v && *v ? v : NULL;
}

char *runner_dup(const json_t *o, const char *k)
{
	const char *v = runner_str(o, k);

	return v ? xstrdup(v) : NULL;
}

void runner_strv(const json_t *o, const char *k, struct strv *out)
{
	const json_t *a = json_object_get(o, k), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v))
			strv_push(out, json_string_value(v));
}

/* Appends v sanitized for an image reference: in the tag (after the name) the
 * characters [A-Za-z0-9_.-], in the name lowercase [a-z0-9._-]; others become '-'. */
static void runner_tag_value(struct buf *out, const char *v, int in_tag)
{
	size_t start = out->len;
	char c;

	for (; *v; v++) {
		c = *v;
		if (!in_tag && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_' || (in_tag && c >= 'A' && c <= 'Z')))
			c = '-';
		if (in_tag && out->len == start && (c == '.' || c == '-'))
			c = '_';
		buf_addch(out, c);
	}
	if (in_tag && out->len - start > 128) {	/* the longest tag a registry takes */
		out->len = start + 128;
		out->data[out->len] = '\0';
	}
}

/* N of prefix + N + "/head", N a positive decimal without leading zero, else 0 */
static long long runner_pr_after(const char *ref, const char *prefix)
{
	size_t n = strlen(prefix);
	long long v = 0;
	const char *p;

	if (strncmp(ref, prefix, n) || ref[n] < '1' || ref[n] > '9')
		return 0;
	for (p = ref + n; *p >= '0' && *p <= '9'; p++) {
		if (v > 99999999999LL)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return strcmp(p, "/head") ? 0 : v;
}

long long runner_pr_number(const char *ref)
{
	long long n;

	if (!ref)
		return 0;
	n = runner_pr_after(ref, "refs/pull/");
	return n ? n : runner_pr_after(ref, "refs/merge-requests/");
}

const char *runner_tag_template(const struct repo_conf *r, const char *ref)
{
	if (runner_pr_number(ref))
		return r->pr_tag && *r->pr_tag ? r->pr_tag : CONFIG_DEFAULT_PR_TAG;
	return r->tag && *r->tag ? r->tag : CONFIG_DEFAULT_TAG;
}

char *runner_expand_tag(const char *tmpl, const char *repo, const char *ref, const char *sha,
			long long id)
{
	struct buf out = BUF_INIT(4096);
	const char *slash = strrchr(tmpl, '/'), *colon, *p, *end;
	const char *branch = "", *tag = "";
	char idstr[32], short_sha[8], prstr[32] = "";
	size_t tag_start = 0;
	ptrdiff_t tag_at;

	colon = strrchr(slash ? slash : tmpl, ':');
	tag_at = colon ? colon - tmpl : -1;
	if (ref) {
		if (!strncmp(ref, "refs/heads/", 11))
			branch = ref + 11;
		else if (!strncmp(ref, "refs/tags/", 10))
			branch = tag = ref + 10;
		else if (!strncmp(ref, "refs/", 5))
			branch = ref + 5;
		else
			branch = ref;
	}
	snprintf(idstr, sizeof(idstr), "%lld", id);
	if (runner_pr_number(ref))
		snprintf(prstr, sizeof(prstr), "%lld", runner_pr_number(ref));
	snprintf(short_sha, sizeof(short_sha), "%.7s", sha ? sha : "");
	for (p = tmpl; *p; p++) {
		int in_tag = tag_at >= 0 && p - tmpl > tag_at;
		const char *v = NULL;

		if (p - tmpl == tag_at)
			tag_start = out.len + 1;
		if (*p == '{' && (end = strchr(p, '}'))) {
			size_t n = (size_t)(end - p - 1);

			if (n == 4 && !strncmp(p + 1, "repo", 4))
				v = repo;
			else if (n == 6 && !strncmp(p + 1, "branch", 6))
				v = branch;
			else if (n == 3 && !strncmp(p + 1, "tag", 3))
				v = tag;
			else if (n == 3 && !strncmp(p + 1, "sha", 3))
				v = sha ? sha : "";
			else if (n == 9 && !strncmp(p + 1, "short_sha", 9))
				v = short_sha;
			else if (n == 5 && !strncmp(p + 1, "build", 5))
				v = idstr;
			else if (n == 2 && !strncmp(p + 1, "pr", 2))
				v = prstr;
			if (v) {
				runner_tag_value(&out, v, in_tag);
				p = end;
				continue;
			}
		}
		buf_addch(&out, *p);
	}
	if (tag_at >= 0 && out.len == tag_start)
		buf_addstr(&out, "latest");
	return buf_detach(&out, NULL);
}
