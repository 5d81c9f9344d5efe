/* gitsrc: opens a build source (directory, work tree, bare repository, URL) with libgit2,
 * fetches into mirrors, resolves the commit, its submodules and its metadata. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <zlib.h>

#include "config.h"
#include "gitsrc.h"
#include "knownhosts.h"
#include "limits.h"

struct gitsrc_sub {
	char *path;		/* from the top repository's root */
	char *url;
	git_repository *repo;
	git_oid commit;
	git_tree *tree;
};

struct gitsrc {
	enum gitsrc_kind kind;
	char *source;		/* as given */
	char *path;		/* directory / work tree top / bare repository */
	char *url;		/* GITSRC_REMOTE: what is fetched */
	char *ctx;		/* context dir, normalised, "" for none */
	char *tmpdir;		/* removed by gitsrc_free */
	char *modules_dir;	/* submodule mirrors ("" until needed) */
	char *known_hosts;
	char *ssh_key;
	char *token;
	char *token_user;
	int ignore_submodules;
	git_repository *repo;
	int resolved;
	git_oid commit;
	git_tree *tree;
	struct gitsrc_sub *subs;
	size_t nsubs;
	char id[GIT_OID_HEXSZ + 1];
	char *ref, *author, *date, *message, *location;
	struct gitsrc_info info;
	struct gitsrc_fetch_stats stats;
};

/* Callback payload for one connection. */
struct gitsrc_conn {
	struct gitsrc *s;
	const char *url;
	char host[256];
	int port;
	int tries;
	size_t bytes;		/* received in the current download */
	int cert_failed;
	struct err cert_err;
};

/* What gitsrc_walk passes as gitsrc_entry.priv */
struct gitsrc_blob {
	git_repository *repo;
	git_oid oid;
};

static pthread_once_t gitsrc_once = PTHREAD_ONCE_INIT;
static int gitsrc_init_rc;

static void gitsrc_init_once(void)
{
	if (git_libgit2_init() < 0) {
		gitsrc_init_rc = -1;
		return;
	}
	/* Small pack windows and caches: streaming a large tree must not map a whole
	 * pack into the process (mapped pages count in RSS). */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)GITSRC_MWINDOW_SIZE);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)GITSRC_MWINDOW_LIMIT);
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)GITSRC_CACHE_MAX);
	/* Repositories owned by another user (the git user's bare repositories, read by
	 * the agent's user) must open. The ownership check protects git's CLI from
	 * running programs named in a hostile config (hooks, fsmonitor); libgit2 runs
	 * none, and gitsrc only reads. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

static int gitsrc_init(struct err *e)
{
	pthread_once(&gitsrc_once, gitsrc_init_once);
	if (gitsrc_init_rc < 0)
		return err_set(e, "cannot initialise libgit2");
	return 0;
}

static const char *gitsrc_errmsg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown libgit2 error";
}

static int gitsrc_git_err(struct err *e, const char *fmt, const char *a, const char *b)
{
	char what[ERR_MSG_MAX];

	snprintf(what, sizeof(what), fmt, a, b ? b : "");
	return err_set(e, "%s: %s", what, gitsrc_errmsg());
}

/* ---- small helpers ---- */

static int gitsrc_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(p);
	return 0;
}

static void gitsrc_rm_rf(const char *dir)
{
	if (dir && *dir)
		nftw(dir, gitsrc_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int gitsrc_is_url(const char *s)
{
	static const char *const schemes[] = { "https://", "http://", "ssh://", "git://",
		"file://", "git+ssh://", "ssh+git://", NULL };
	const char *colon, *slash;
	size_t i;

	if (!s)
		return 0;
	for (i = 0; schemes[i]; i++)
		if (!strncasecmp(s, schemes[i], strlen(schemes[i])))
			return 1;
	/* scp-like [user@]host:path: a colon before any slash */
	colon = strchr(s, ':');
	slash = strchr(s, '/');
	if (!colon || colon == s || (slash && slash < colon))
		return 0;
	return colon[1] != '\0';
}

/* "https://user:pw@host/x" -> "https://host/x": locations end up in image labels. */
static char *gitsrc_url_public(const char *url)
{
	const char *p = strstr(url, "://"), *at, *end;

	if (!p || strncasecmp(url, "http", 4))
		return xstrdup(url);
	p += 3;
	end = p + strcspn(p, "/");
	at = memchr(p, '@', (size_t)(end - p));
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(p - url), url, at + 1);
}

/* Host and port of an SSH URL (ssh://[user@]host[:port]/path or [user@]host:path). */
static void gitsrc_ssh_host(const char *url, char *host, size_t hostsz, int *port)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n;

	*port = 22;
	host[0] = '\0';
	if (p) {
		p += 3;
		end = p + strcspn(p, "/");
	} else {
		p = url;
		end = strchr(url, ':');
		if (!end)
			return;
	}
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') {	/* [v6]:port */
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb) {
			n = (size_t)(rb - p - 1);
			snprintf(host, hostsz, "%.*s", (int)n, p + 1);
			if (rb[1] == ':' && strstr(url, "://"))
				*port = atoi(rb + 2);
			return;
		}
	}
	if (strstr(url, "://")) {
		const char *c = memchr(p, ':', (size_t)(end - p));

		if (c) {
			*port = atoi(c + 1);
			end = c;
		}
	}
	n = (size_t)(end - p);
	snprintf(host, hostsz, "%.*s", (int)n, p);
}

/* Normalises a context dir: strips "./", duplicate and trailing slashes; refuses "..". */
static int gitsrc_norm_ctx(const char *in, char **ret, struct err *e)
{
	struct buf b = BUF_INIT(GITSRC_PATH_MAX);
	const char *p = in ? in : "";
	int rc = 0;

	if (*p == '/')
		return err_set(e, "context dir '%s' must be relative", in);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2)) {
			buf_release(&b);
			return err_set(e, "context dir '%s' must not contain '..'", in);
		}
		if (n && !(n == 1 && *p == '.')) {
			if (b.len)
				rc |= buf_addch(&b, '/');
			rc |= buf_add(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (rc) {
		buf_release(&b);
		return err_set(e, "context dir too long");
	}
	*ret = buf_detach(&b, NULL);
	return 0;
}

/* A file-system friendly, collision-resistant name for a submodule mirror. */
static char *gitsrc_mirror_name(const char *url)
{
	uint64_t h = 1469598103934665603ull;
	char name[80];
	size_t i, n = 0;
	const char *p;

	for (p = url; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	p = strstr(url, "://");
	p = p ? p + 3 : url;
	for (i = 0; p[i] && n < 48; i++) {
		char c = p[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || (c == '.' && n > 0);

		name[n++] = ok ? c : '_';
	}
	name[n] = '\0';
	return xasprintf("%s-%016llx.git", name, (unsigned long long)h);
}

/* Resolves a submodule URL relative to its superproject's ("../x.git", "./y"). */
static char *gitsrc_relative_url(const char *base, const char *rel)
{
	char *b = xstrdup(base), *cut, *out;
	size_t len = strlen(b);
	const char *r = rel;
	int scp = !strstr(b, "://") && gitsrc_is_url(b);

	while (len > 1 && b[len - 1] == '/')
		b[--len] = '\0';
	for (;;) {
		if (!strncmp(r, "./", 2)) {
			r += 2;
		} else if (!strncmp(r, "../", 3) || !strcmp(r, "..")) {
			cut = strrchr(b, '/');
			if (scp && (!cut || cut < strchr(b, ':')))
				cut = strchr(b, ':');
			if (cut && (!strstr(b, "://") || cut > strstr(b, "://") + 2))
				*cut = '\0';
			r += r[2] ? 3 : 2;
		} else
			break;
	}
	if (!*r)
		out = xstrdup(b);
	else if (scp && !strchr(b, ':'))
		out = xasprintf("%s:%s", b, r);
	else
		out = xasprintf("%s/%s", b, r);
	free(b);
	return out;
}

/* The token is a secret like any other: config_read_secret refuses files readable by
 * group or others. */
static int gitsrc_read_token(const char *file, char **ret, struct err *e)
{
	char *lines[1] = { NULL };
	size_t n = 0;

	if (config_read_secret(file, lines, 1, &n, e) < 0)
		return err_prefix(e, "git token");
	if (n < 1 || !lines[0] || !*lines[0]) {
		free(lines[0]);
		return err_set(e, "git token file '%s' is empty", file);
	}
	*ret = lines[0];
	return 0;
}

/* ---- credentials and host keys ---- */

static int gitsrc_cred_cb(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	struct gitsrc_conn *c = payload;
	struct gitsrc *s = c->s;

	(void)url;
	if (++c->tries > GITSRC_AUTH_TRIES) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (credential refused)");
		return GIT_EAUTH;
	}
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && s->ssh_key)
		return git_credential_ssh_key_new(out, user_from_url && *user_from_url ? user_from_url : "git",
						  NULL, s->ssh_key, NULL);
	if ((allowed & GIT_CREDENTIAL_USERNAME) && !(allowed & ~GIT_CREDENTIAL_USERNAME))
		return git_credential_username_new(out, user_from_url && *user_from_url ? user_from_url : "git");
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && s->token)
		return git_credential_userpass_plaintext_new(out,
			user_from_url && *user_from_url ? user_from_url :
			s->token_user ? s->token_user : "x-access-token", s->token);
	git_error_set_str(GIT_ERROR_NET, (allowed & GIT_CREDENTIAL_SSH_KEY) ?
			  "authentication required and no ssh_key_file configured" :
			  "authentication required and no git_token_file configured");
	return GIT_EAUTH;
}

static int gitsrc_cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct gitsrc_conn *c = payload;
	struct knownhosts_key key = { NULL, 0, NULL };
	char home_kh[4096];
	const char *kh = c->s->known_hosts;
	git_cert_hostkey *hk;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH;	/* TLS: libgit2's own verification */
	hk = (git_cert_hostkey *)cert;
	if (hk->type & GIT_CERT_SSH_RAW) {
		key.raw = (const unsigned char *)hk->hostkey;
		key.raw_len = hk->hostkey_len;
	}
	if (hk->type & GIT_CERT_SSH_SHA256)
		key.sha256 = hk->hash_sha256;
	if (!kh) {
		const char *home = getenv("HOME");

		snprintf(home_kh, sizeof(home_kh), "%s/.ssh/known_hosts", home ? home : "/");
		kh = home_kh;
	}
	if (!key.raw && !key.sha256) {
		c->cert_failed = 1;
		err_set(&c->cert_err, "no usable host key for '%s' from the SSH layer", host);
	} else if (knownhosts_check(kh, c->host[0] ? c->host : host, c->port, &key, &c->cert_err) < 0)
		c->cert_failed = 1;
	if (c->cert_failed) {
		git_error_set_str(GIT_ERROR_SSH, c->cert_err.msg);
		return GIT_ECERTIFICATE;
	}
	return 0;
}

/* ---- fetching ---- */

static int gitsrc_hexlen(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return s[n] == '\0' ? (int)n : 0;
}

static void gitsrc_conn_init(struct gitsrc_conn *c, struct gitsrc *s, const char *url)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->url = url;
	c->port = 22;
	if (!strncasecmp(url, "ssh://", 6) || !strncasecmp(url, "git+ssh://", 10) ||
	    !strncasecmp(url, "ssh+git://", 10) || (!strstr(url, "://") && gitsrc_is_url(url)))
		gitsrc_ssh_host(url, c->host, sizeof(c->host), &c->port);
}

static int gitsrc_fail_net(struct gitsrc_conn *c, struct err *e, const char *what, const char *url)
{
	if (c->cert_failed)
		return err_set(e, "cannot %s '%s': %s", what, url, c->cert_err.msg);
	return gitsrc_git_err(e, "cannot %s '%s'", what, url);
}

static int gitsrc_progress_cb(const git_indexer_progress *st, void *payload)
{
	struct gitsrc_conn *c = payload;

	c->bytes = st->received_bytes;
	return 0;
}

/* Downloads specs ("+refs/heads/x:refs/heads/x", "+<sha>:refs/...") over a connected
 * remote, without tags, and updates the local refs they name. */
static int gitsrc_download(struct gitsrc *s, git_repository *repo, git_remote *remote,
			   struct gitsrc_conn *c, const char *const *specs, size_t nspecs, struct err *e)
{
	git_fetch_options fo;
	git_strarray arr = { (char **)(uintptr_t)specs, nspecs };
	const git_indexer_progress *st;
	struct timespec t0, t1;
	int rc;

	(void)repo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fo.callbacks.credentials = gitsrc_cred_cb;
	fo.callbacks.certificate_check = gitsrc_cert_cb;
	fo.callbacks.transfer_progress = gitsrc_progress_cb;
	fo.callbacks.payload = c;
	c->bytes = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.proxy_opts.type = GIT_PROXY_AUTO;
	rc = git_remote_download(remote, &arr, &fo);
	if (rc == 0)
		rc = git_remote_update_tips(remote, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
					    "s2i-agent: fetch");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->stats.seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	s->stats.fetches++;
	st = git_remote_stats(remote);
	if (st) {
		s->stats.objects += st->received_objects;
		s->stats.bytes += st->received_bytes > c->bytes ? st->received_bytes : c->bytes;
	}
	if (rc < 0)
		return gitsrc_fail_net(c, e, "fetch", c->url);
	return 0;
}

static int gitsrc_connect(struct gitsrc *s, git_repository *repo, const char *url,
			  struct gitsrc_conn *c, git_remote **ret, struct err *e)
{
	git_remote_callbacks cb;
	git_proxy_options po;
	git_remote *remote = NULL;
	struct timespec t0, t1;
	int rc;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_proxy_options_init(&po, GIT_PROXY_OPTIONS_VERSION);

	gitsrc_conn_init(c, s, url);
	if (git_remote_create_anonymous(&remote, repo, url) < 0)
		return gitsrc_git_err(e, "invalid git URL '%s'%s", url, NULL);
	cb.credentials = gitsrc_cred_cb;
	cb.certificate_check = gitsrc_cert_cb;
	cb.payload = c;
	po.type = GIT_PROXY_AUTO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, &po, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->stats.seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc < 0) {
		gitsrc_fail_net(c, e, "connect to", url);
		git_remote_free(remote);
		return -1;
	}
	*ret = remote;
	return 0;
}

/* Finds ref among the remote's heads: exact, refs/heads/X, refs/tags/X. NULL: HEAD's
 * target. Returns the full name (owned) or NULL. */
static char *gitsrc_match_ref(git_remote *remote, const char *ref, git_oid *ret_oid)
{
	const git_remote_head **heads;
	char *cands[3] = { NULL, NULL, NULL };
	char *found = NULL;
	size_t n, i, k;

	if (git_remote_ls(&heads, &n, remote) < 0)
		return NULL;
	if (!ref || !*ref) {
		git_buf b = GIT_BUF_INIT;

		if (git_remote_default_branch(&b, remote) == 0) {
			cands[0] = xstrdup(b.ptr);
			git_buf_dispose(&b);
		} else
			cands[0] = xstrdup("HEAD");
	} else if (!strncmp(ref, "refs/", 5) || !strcmp(ref, "HEAD")) {
		cands[0] = xstrdup(ref);
	} else {
		cands[0] = xasprintf("refs/heads/%s", ref);
		cands[1] = xasprintf("refs/tags/%s", ref);
		cands[2] = xstrdup(ref);
	}
	for (k = 0; k < 3 && cands[k] && !found; k++)
		for (i = 0; i < n; i++)
			if (!strcmp(heads[i]->name, cands[k])) {
				found = xstrdup(cands[k]);
				git_oid_cpy(ret_oid, &heads[i]->oid);
				break;
			}
	for (k = 0; k < 3; k++)
		free(cands[k]);
	return found;
}

/* An advertised ref whose tip is oid (e.g. a pre-receive hook's staging ref). */
static char *gitsrc_ref_at(git_remote *remote, const git_oid *oid)
{
	const git_remote_head **heads;
	size_t n, i;

	if (git_remote_ls(&heads, &n, remote) < 0)
		return NULL;
	for (i = 0; i < n; i++)
		if (git_oid_equal(&heads[i]->oid, oid) && strcmp(heads[i]->name, "HEAD"))
			return xstrdup(heads[i]->name);
	return NULL;
}

static int gitsrc_has_commit(git_repository *repo, const git_oid *oid)
{
	git_odb *odb = NULL;
	int ok;

	if (git_repository_odb(&odb, repo) < 0)
		return 0;
	ok = git_odb_exists(odb, oid);
	git_odb_free(odb);
	return ok;
}

/* ---- local sources: objects copied by libgit2's pack builder ----
 * libgit2's local transport packs every tree of each new commit in full, so an
 * incremental fetch of a large repository would copy the whole tree again; a pack built
 * from a revwalk that hides what the mirror has contains only the new objects. */

static int gitsrc_is_local(const char *url)
{
	return !strncasecmp(url, "file://", 7) || !gitsrc_is_url(url);
}

struct gitsrc_pack_ctx {
	git_odb_writepack *wp;
	git_indexer_progress prog;
	uint64_t bytes;
};

static int gitsrc_pack_cb(void *buf, size_t size, void *payload)
{
	struct gitsrc_pack_ctx *pc = payload;

	pc->bytes += size;
	return pc->wp->append(pc->wp, buf, size, &pc->prog);
}

static int gitsrc_copy_objects(struct gitsrc *s, git_repository *src, git_repository *dst,
			       const git_oid *targets, size_t n, const char *url, struct err *e)
{
	struct gitsrc_pack_ctx pc;
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_reference_iterator *it = NULL;
	git_reference *r;
	git_odb *odb = NULL;
	struct timespec t0, t1;
	size_t i;
	int rc = -1;

	memset(&pc, 0, sizeof(pc));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (git_packbuilder_new(&pb, src) < 0 || git_revwalk_new(&walk, src) < 0) {
		gitsrc_git_err(e, "cannot pack objects of '%s'%s", url, NULL);
		goto out;
	}
	git_packbuilder_set_threads(pb, 0);
	for (i = 0; i < n; i++) {
		git_object *o = NULL, *c = NULL;

		if (git_object_lookup(&o, src, &targets[i], GIT_OBJECT_ANY) < 0) {
			char hex[GIT_OID_HEXSZ + 1];

			git_oid_tostr(hex, sizeof(hex), &targets[i]);
			gitsrc_git_err(e, "object %s not found in '%s'", hex, url);
			goto out;
		}
		if (git_object_type(o) == GIT_OBJECT_TAG && git_packbuilder_insert(pb, &targets[i], NULL) < 0) {
			git_object_free(o);
			gitsrc_git_err(e, "cannot pack a tag of '%s'%s", url, NULL);
			goto out;
		}
		if (git_object_peel(&c, o, GIT_OBJECT_COMMIT) < 0 ||
		    git_revwalk_push(walk, git_object_id(c)) < 0) {
			git_object_free(o);
			git_object_free(c);
			gitsrc_git_err(e, "cannot walk '%s'%s", url, NULL);
			goto out;
		}
		git_object_free(o);
		git_object_free(c);
	}
	/* everything the mirror already has is left out */
	if (git_reference_iterator_new(&it, dst) == 0) {
		while (git_reference_next(&r, it) == 0) {
			if (git_reference_type(r) == GIT_REFERENCE_DIRECT)
				git_revwalk_hide(walk, git_reference_target(r));	/* unknown here: fine */
			git_reference_free(r);
		}
		git_reference_iterator_free(it);
	}
	git_error_clear();
	if (git_packbuilder_insert_walk(pb, walk) < 0) {
		gitsrc_git_err(e, "cannot pack objects of '%s'%s", url, NULL);
		goto out;
	}
	if (git_packbuilder_object_count(pb) > 0) {
		if (git_repository_odb(&odb, dst) < 0 || git_odb_write_pack(&pc.wp, odb, NULL, NULL) < 0) {
			gitsrc_git_err(e, "cannot write into '%s'%s", git_repository_path(dst), NULL);
			goto out;
		}
		if (git_packbuilder_foreach(pb, gitsrc_pack_cb, &pc) < 0 ||
		    pc.wp->commit(pc.wp, &pc.prog) < 0) {
			gitsrc_git_err(e, "cannot copy objects from '%s'%s", url, NULL);
			goto out;
		}
	}
	s->stats.objects += (unsigned)git_packbuilder_object_count(pb);
	s->stats.bytes += pc.bytes;
	rc = 0;
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->stats.seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	s->stats.fetches++;
	if (pc.wp)
		pc.wp->free(pc.wp);
	git_odb_free(odb);
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	return rc;
}

/* Finds ref in a local repository like gitsrc_match_ref does among remote heads. */
static char *gitsrc_local_ref(git_repository *src, const char *ref, git_oid *ret_oid)
{
	char *cands[3] = { NULL, NULL, NULL }, *found = NULL;
	git_reference *r = NULL, *res = NULL;
	size_t k;

	if (!ref || !*ref) {
		if (git_reference_lookup(&r, src, "HEAD") == 0 && git_reference_type(r) == GIT_REFERENCE_SYMBOLIC)
			cands[0] = xstrdup(git_reference_symbolic_target(r));
		else
			cands[0] = xstrdup("HEAD");
		git_reference_free(r);
		r = NULL;
	} else if (!strncmp(ref, "refs/", 5) || !strcmp(ref, "HEAD")) {
		cands[0] = xstrdup(ref);
	} else {
		cands[0] = xasprintf("refs/heads/%s", ref);
		cands[1] = xasprintf("refs/tags/%s", ref);
		cands[2] = xstrdup(ref);
	}
	for (k = 0; k < 3 && cands[k] && !found; k++) {
		if (git_reference_lookup(&r, src, cands[k]) < 0)
			continue;
		if (git_reference_resolve(&res, r) == 0) {
			git_oid_cpy(ret_oid, git_reference_target(res));
			found = xstrdup(cands[k]);
			git_reference_free(res);
		}
		git_reference_free(r);
	}
	for (k = 0; k < 3; k++)
		free(cands[k]);
	git_error_clear();
	return found;
}

/* ---- seeding a fresh mirror from a local repository ----
 * Building one pack of a whole repository costs CPU and memory in proportion to its
 * size; a fresh mirror of a local repository instead gets copies (hard links when
 * allowed) of its object files, like `git clone --local`. Later fetches pack only the
 * new objects. */

static int gitsrc_has_refs(git_repository *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *r = NULL;
	int any = 0;

	if (git_reference_iterator_new(&it, repo) < 0)
		return 1;	/* unknown: do not seed */
	if (git_reference_next(&r, it) == 0) {
		any = 1;
		git_reference_free(r);
	}
	git_reference_iterator_free(it);
	git_error_clear();
	return any;
}

/* Copies (or links) one object file; the destination appears atomically. */
static int gitsrc_copy_file(int sdir, int ddir, const char *name, uint64_t *bytes, struct err *e)
{
	char tmp[300], *buf = NULL;
	int in = -1, out = -1, rc = -1;
	struct stat st;

	if (faccessat(ddir, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (linkat(sdir, name, ddir, name, 0) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "tmp_seed_%d_%s", (int)getpid(), name);
	in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = in < 0 && errno == ENOENT ? 0 : err_errno(e, "cannot read object file '%s'", name);
		goto out;	/* vanished (gc in the source): the pack builder covers it */
	}
	out = openat(ddir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (out < 0) {
		err_errno(e, "cannot create '%s'", tmp);
		goto out;
	}
	buf = xmalloc(GITSRC_CHUNK);
	for (;;) {
		ssize_t n = read(in, buf, GITSRC_CHUNK), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read object file '%s'", name);
			goto out;
		}
		if (n == 0)
			break;
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				err_errno(e, "cannot write object file '%s'", name);
				goto out;
			}
			w += k;
		}
		*bytes += (uint64_t)n;
	}
	if (close(out) < 0) {
		out = -1;
		err_errno(e, "cannot write object file '%s'", name);
		goto out;
	}
	out = -1;
	if (renameat(ddir, tmp, ddir, name) < 0) {
		err_errno(e, "cannot rename '%s'", tmp);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0 && out >= 0)
		unlinkat(ddir, tmp, 0);
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	free(buf);
	return rc;
}

/* Objects in a pack, from its .idx (v2: the last fan-out entry). */
static unsigned gitsrc_idx_count(int dir, const char *idx)
{
	unsigned char h[8 + 256 * 4];
	int fd = openat(dir, idx, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h, "\377tOc", 4))
		return 0;
	return (unsigned)h[sizeof(h) - 4] << 24 | (unsigned)h[sizeof(h) - 3] << 16 |
	       (unsigned)h[sizeof(h) - 2] << 8 | h[sizeof(h) - 1];
}

/* Copies the files of one object directory level: packs (.pack before .idx, so a
 * reader never finds an index without its pack) or a loose fan-out directory. */
static int gitsrc_seed_dir(struct gitsrc *s, const char *sdir, const char *ddir, int packs,
			   struct err *e)
{
	const char *const pass[2] = { ".pack", ".idx" };
	int sfd, dfd, p, rc = 0;

	sfd = open(sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return 0;
	if (mkdir(ddir, 0755) < 0 && errno != EEXIST) {
		close(sfd);
		return err_errno(e, "cannot create '%s'", ddir);
	}
	dfd = open(ddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		close(sfd);
		return err_errno(e, "cannot open '%s'", ddir);
	}
	for (p = 0; p < (packs ? 2 : 1) && rc == 0; p++) {
		int dup_fd = dup(sfd);
		DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		struct dirent *de;

		if (!d) {
			if (dup_fd >= 0)
				close(dup_fd);
			rc = err_errno(e, "cannot read '%s'", sdir);
			break;
		}
		rewinddir(d);
		while (rc == 0 && (de = readdir(d))) {
			size_t len = strlen(de->d_name);

			if (de->d_name[0] == '.' || len >= 200)
				continue;
			if (packs) {
				size_t sl = strlen(pass[p]);

				if (len <= sl || strcmp(de->d_name + len - sl, pass[p]) || strncmp(de->d_name, "pack-", 5))
					continue;
				if (p == 1)
					s->stats.objects += gitsrc_idx_count(sfd, de->d_name);
			} else {
				if (len != GIT_OID_HEXSZ - 2 || strspn(de->d_name, "0123456789abcdef") != len)
					continue;
				s->stats.objects++;
			}
			rc = gitsrc_copy_file(sfd, dfd, de->d_name, &s->stats.bytes, e);
		}
		closedir(d);
	}
	close(sfd);
	close(dfd);
	return rc;
}

static int gitsrc_seed(struct gitsrc *s, git_repository *src, git_repository *dst, struct err *e)
{
	char *sobj = xasprintf("%sobjects", git_repository_commondir(src));
	char *dobj = xasprintf("%sobjects", git_repository_commondir(dst));
	struct timespec t0, t1;
	git_odb *odb = NULL;
	int i, rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = 0;
	for (i = -1; i < 256 && rc == 0; i++) {
		char *sd, *dd;

		if (i < 0) {
			sd = xasprintf("%s/pack", sobj);
			dd = xasprintf("%s/pack", dobj);
		} else {
			sd = xasprintf("%s/%02x", sobj, i);
			dd = xasprintf("%s/%02x", dobj, i);
		}
		if (i < 0 || access(sd, F_OK) == 0)
			rc = gitsrc_seed_dir(s, sd, dd, i < 0, e);
		free(sd);
		free(dd);
	}
	if (rc == 0 && git_repository_odb(&odb, dst) == 0) {
		git_odb_refresh(odb);
		git_odb_free(odb);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->stats.seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	s->stats.fetches++;
	free(sobj);
	free(dobj);
	return rc;
}

static int gitsrc_fetch_local(struct gitsrc *s, git_repository *repo, const char *url, const char *ref,
			      const git_oid *want, char **ret_local, struct err *e)
{
	git_repository *src = NULL;
	const char *path = !strncasecmp(url, "file://", 7) ? url + 7 : url;
	git_oid targets[2], tip, byid;
	size_t n = 0;
	char *full = NULL, *local = NULL;
	int rc = -1;

	*ret_local = NULL;
	/* the exact commit is already mirrored (a retry, a rebuild): no network at all;
	 * ref then only names it */
	if (want && gitsrc_has_commit(repo, want))
		return 0;
	if (git_repository_open_ext(&src, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return gitsrc_git_err(e, "cannot open git repository '%s'%s", url, NULL);
	if (!gitsrc_has_refs(repo) && gitsrc_seed(s, src, repo, e) < 0) {
		err_prefix(e, "cannot copy the objects of '%s'", url);
		goto out;
	}
	if (ref && *ref && gitsrc_hexlen(ref) == GIT_OID_HEXSZ && !want) {
		git_oid_fromstr(&byid, ref);
		want = &byid;
		ref = NULL;
		if (gitsrc_has_commit(repo, want)) {
			rc = 0;
			goto out;
		}
	} else {
		full = gitsrc_local_ref(src, ref, &tip);
		if (!full && !want) {
			err_set(e, "ref '%s' not found at '%s'%s", ref && *ref ? ref : "HEAD", url,
				ref && gitsrc_hexlen(ref) >= 4 ? " (abbreviated commit ids must be local; give the full sha)" : "");
			goto out;
		}
		/* no ref but a sha: a new branch seen by a pre-receive hook (its commit is
		 * staged under another ref) or a deleted one: the sha alone is fetched */
		if (full) {
			local = !strcmp(full, "HEAD") ? xstrdup("refs/s2i-agent/HEAD") : xstrdup(full);
			if (!gitsrc_has_commit(repo, &tip))
				git_oid_cpy(&targets[n++], &tip);
		}
	}
	if (want && !gitsrc_has_commit(repo, want) && (n == 0 || !git_oid_equal(want, &targets[0])))
		git_oid_cpy(&targets[n++], want);
	if (n > 0 && gitsrc_copy_objects(s, src, repo, targets, n, url, e) < 0) {
		if (full)
			err_prefix(e, "ref '%s'", full);
		goto out;
	}
	if (local) {
		git_reference *r = NULL;

		if (git_reference_create(&r, repo, local, &tip, 1, "s2i-agent: fetch") < 0) {
			gitsrc_git_err(e, "cannot update '%s' in '%s'", local, git_repository_path(repo));
			goto out;
		}
		git_reference_free(r);
	} else if (want) {
		git_reference *r = NULL;

		if (git_reference_create(&r, repo, "refs/s2i-agent/fetched", want, 1, "s2i-agent: fetch") == 0)
			local = xstrdup("refs/s2i-agent/fetched");
		git_reference_free(r);
	}
	if (want && !gitsrc_has_commit(repo, want)) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), want);
		err_set(e, "commit %s not found at '%s'", hex, url);
		goto out;
	}
	*ret_local = local;
	local = NULL;
	rc = 0;
out:
	free(full);
	free(local);
	git_repository_free(src);
	return rc;
}

/*
 * Brings ref (and/or want) from url into repo. On success *ret_local is the local ref
 * name that holds the fetched tip (NULL when only want was needed) .
 */
static int gitsrc_fetch(struct gitsrc *s, git_repository *repo, const char *url, const char *ref,
			const git_oid *want, char **ret_local, struct err *e)
{
	struct gitsrc_conn c;
	git_remote *remote = NULL;
	char *full = NULL, *spec = NULL;
	git_oid tip;
	int rc = -1, staged = 0;

	*ret_local = NULL;
	if (gitsrc_is_local(url))
		return gitsrc_fetch_local(s, repo, url, ref, want, ret_local, e);
	/* the exact commit is already mirrored (a retry, a rebuild): no network at all;
	 * ref then only names it */
	if (want && gitsrc_has_commit(repo, want))
		return 0;
	if (gitsrc_connect(s, repo, url, &c, &remote, e) < 0)
		return -1;
	if (ref && *ref && gitsrc_hexlen(ref) == GIT_OID_HEXSZ && !want) {
		/* a full sha as --ref */
		git_oid o;

		git_oid_fromstr(&o, ref);
		if (gitsrc_has_commit(repo, &o)) {
			rc = 0;
			goto out;
		}
		spec = xasprintf("+%s:refs/s2i-agent/fetched", ref);
		if (gitsrc_download(s, repo, remote, &c, (const char *const *)&spec, 1, e) < 0) {
			err_prefix(e, "commit %s", ref);
			goto out;
		}
		*ret_local = xstrdup("refs/s2i-agent/fetched");
		rc = 0;
		goto out;
	}
	full = gitsrc_match_ref(remote, ref, &tip);
	if (!full && want) {
		/* the ref does not exist (yet): a new branch seen by a pre-receive hook, whose
		 * commit is staged under another advertised ref, or a deleted branch */
		full = gitsrc_ref_at(remote, want);
		if (full) {
			git_oid_cpy(&tip, want);
			staged = 1;
		}
	}
	if (!full && !want) {
		if (ref && *ref && gitsrc_hexlen(ref) >= 4) {
			err_set(e, "ref '%s' not found at '%s' (abbreviated commit ids must be local; give the full sha)",
				ref, url);
			goto out;
		}
		err_set(e, "ref '%s' not found at '%s'", ref && *ref ? ref : "HEAD", url);
		goto out;
	}
	if (full) {
		if (!strcmp(full, "HEAD"))
			spec = xstrdup("+HEAD:refs/s2i-agent/HEAD");
		else if (staged)	/* someone else's ref: not mirrored under its name */
			spec = xasprintf("+%s:refs/s2i-agent/fetched", full);
		else
			spec = xasprintf("+%s:%s", full, full);
		if (gitsrc_has_commit(repo, &tip)) {
			/* nothing to download: just move the local ref (no-op fetch) */
			git_reference *r = NULL;
			const char *local = strchr(spec, ':') + 1;

			if (git_reference_create(&r, repo, local, &tip, 1, "s2i-agent: up to date") < 0) {
				gitsrc_git_err(e, "cannot update '%s' in '%s'", local, git_repository_path(repo));
				goto out;
			}
			git_reference_free(r);
		} else if (gitsrc_download(s, repo, remote, &c, (const char *const *)&spec, 1, e) < 0) {
			err_prefix(e, "ref '%s'", full);
			goto out;
		}
		*ret_local = xstrdup(strchr(spec, ':') + 1);
	}
	if (want && !gitsrc_has_commit(repo, want)) {
		/* the ref moved on (force push): a ref at the commit, the commit by id, then
		 * every branch and tag */
		char hex[GIT_OID_HEXSZ + 1];
		char *s2, *at = gitsrc_ref_at(remote, want);
		const char *all[2] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
		struct err e2 = ERR_INIT;

		git_oid_tostr(hex, sizeof(hex), want);
		s2 = xasprintf("+%s:refs/s2i-agent/fetched", at ? at : hex);
		free(at);
		if (gitsrc_download(s, repo, remote, &c, (const char *const *)&s2, 1, &e2) < 0 ||
		    !gitsrc_has_commit(repo, want))
			gitsrc_download(s, repo, remote, &c, all, 2, &e2);
		free(s2);
		if (!gitsrc_has_commit(repo, want)) {
			err_set(e, "commit %s not found at '%s' (ref '%s')", hex, url, ref && *ref ? ref : "HEAD");
			goto out;
		}
		if (!*ret_local) {
			git_reference *r = NULL;

			if (git_reference_create(&r, repo, "refs/s2i-agent/fetched", want, 1, "s2i-agent: fetch") == 0)
				*ret_local = xstrdup("refs/s2i-agent/fetched");
			git_reference_free(r);
		}
	}
	rc = 0;
out:
	if (rc < 0) {
		free(*ret_local);
		*ret_local = NULL;
	}
	free(full);
	free(spec);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	return rc;
}

/* Opens a bare mirror, creating it (and its parents) on first use. */
static int gitsrc_mirror_open(const char *dir, git_repository **ret, struct err *e)
{
	if (git_repository_open_ext(ret, dir, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
				    NULL) == 0)
		return 0;
	/* first use (git_repository_init creates the parents); a directory that exists
	 * but is not a repository gets one inside, which is harmless when it is empty */
	if (git_repository_init(ret, dir, 1) < 0)
		return gitsrc_git_err(e, "cannot create git mirror '%s'%s", dir, NULL);
	return 0;
}

/* ---- open ---- */

int gitsrc_open(const char *source, const struct gitsrc_opts *o, struct gitsrc **ret, struct err *e)
{
	static const struct gitsrc_opts defaults = GITSRC_OPTS_INIT;
	struct gitsrc *s;
	struct stat st;

	if (!o)
		o = &defaults;
	if (gitsrc_init(e) < 0)
		return -1;
	if (!source || !*source)
		return err_set(e, "no source given");
	s = xcalloc(1, sizeof(*s));
	s->source = xstrdup(source);
	s->ignore_submodules = o->ignore_submodules;
	s->known_hosts = o->known_hosts_file ? xstrdup(o->known_hosts_file) : NULL;
	s->ssh_key = o->ssh_key_file ? xstrdup(o->ssh_key_file) : NULL;
	s->token_user = o->token_user ? xstrdup(o->token_user) : NULL;
	s->modules_dir = xstrdup("");
	if (gitsrc_norm_ctx(o->context_dir, &s->ctx, e) < 0)
		goto fail;
	if (o->token && *o->token)
		s->token = xstrdup(o->token);
	else if (o->token_file && *o->token_file && gitsrc_read_token(o->token_file, &s->token, e) < 0)
		goto fail;

	if (o->mirror_dir || gitsrc_is_url(source)) {
		s->kind = GITSRC_REMOTE;
		s->url = xstrdup(source);
		if (o->mirror_dir) {
			s->path = xstrdup(o->mirror_dir);
			free(s->modules_dir);
			s->modules_dir = xasprintf("%s.modules", o->mirror_dir);
			if (gitsrc_mirror_open(s->path, &s->repo, e) < 0)
				goto fail;
		} else {
			const char *tmp = getenv("TMPDIR");

			s->tmpdir = xasprintf("%s/s2i-agent-git-XXXXXX", tmp && *tmp ? tmp : "/tmp");
			if (!mkdtemp(s->tmpdir)) {
				err_errno(e, "cannot create a temporary directory '%s'", s->tmpdir);
				free(s->tmpdir);
				s->tmpdir = NULL;
				goto fail;
			}
			s->path = xasprintf("%s/repo.git", s->tmpdir);
			free(s->modules_dir);
			s->modules_dir = xasprintf("%s/modules", s->tmpdir);
			if (git_repository_init(&s->repo, s->path, 1) < 0) {
				gitsrc_git_err(e, "cannot create '%s'%s", s->path, NULL);
				goto fail;
			}
		}
		*ret = s;
		return 0;
	}
	if (stat(source, &st) < 0) {
		err_errno(e, "cannot open source '%s'", source);
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set(e, "source '%s' is not a directory", source);
		goto fail;
	}
	s->path = realpath(source, NULL);
	if (!s->path) {
		err_errno(e, "cannot resolve source '%s'", source);
		goto fail;
	}
	if (git_repository_open_ext(&s->repo, s->path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0) {
		if (git_repository_is_bare(s->repo)) {
			s->kind = GITSRC_BARE;
		} else if (git_repository_head_unborn(s->repo) == 1 || git_repository_is_empty(s->repo) == 1) {
			/* no commit yet: like s2i, build the files as they are */
			git_repository_free(s->repo);
			s->repo = NULL;
			s->kind = GITSRC_PLAIN;
		} else
			s->kind = GITSRC_WORKTREE;
	} else
		s->kind = GITSRC_PLAIN;
	*ret = s;
	return 0;
fail:
	gitsrc_free(s);
	return -1;
}

/* ---- metadata ---- */

static void gitsrc_info_clear(struct gitsrc *s)
{
	free(s->ref);
	free(s->author);
	free(s->date);
	free(s->message);
	free(s->location);
	s->ref = s->author = s->date = s->message = s->location = NULL;
	s->id[0] = '\0';
	memset(&s->info, 0, sizeof(s->info));
}

static void gitsrc_info_fill(struct gitsrc *s)
{
	s->info.id = s->id;
	s->info.ref = s->ref ? s->ref : "";
	s->info.author = s->author ? s->author : "";
	s->info.date = s->date ? s->date : "";
	s->info.message = s->message ? s->message : "";
	s->info.location = s->location ? s->location : "";
}

/* git's default date format in the commit's own time zone. */
static char *gitsrc_date(git_time_t t, int offset)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t local = (time_t)(t + (git_time_t)offset * 60);
	struct tm tm;
	int off = offset < 0 ? -offset : offset;

	gmtime_r(&local, &tm);
	return xasprintf("%s %s %d %02d:%02d:%02d %d %c%02d%02d", days[tm.tm_wday], months[tm.tm_mon],
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900,
			 offset < 0 ? '-' : '+', off / 60, off % 60);
}

/* %<(80,trunc)%s: at most 80 columns, longer subjects cut to 78 + "..". */
static char *gitsrc_subject(const char *summary)
{
	size_t cols = 0, i, cut = 0;

	for (i = 0; summary[i]; i++) {
		if (((unsigned char)summary[i] & 0xC0) == 0x80)
			continue;
		if (cols == 78)
			cut = i;
		cols++;
	}
	if (cols <= 80)
		return xstrdup(summary);
	return xasprintf("%.*s..", (int)cut, summary);
}

static char *gitsrc_origin_url(git_repository *repo)
{
	git_config *cfg = NULL;
	git_buf b = GIT_BUF_INIT;
	char *out = NULL;

	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_string_buf(&b, cfg, "remote.origin.url") == 0 && b.ptr && *b.ptr)
		out = xstrdup(b.ptr);
	git_buf_dispose(&b);
	git_config_free(cfg);
	return out;
}

static int gitsrc_metadata(struct gitsrc *s, const char *refname, struct err *e)
{
	git_commit *c = NULL;
	const git_signature *a;
	const char *sum;
	char *origin;

	if (git_commit_lookup(&c, s->repo, &s->commit) < 0)
		return gitsrc_git_err(e, "cannot read commit %s%s", s->id, NULL);
	a = git_commit_author(c);
	s->author = xasprintf("%s <%s>", a->name ? a->name : "", a->email ? a->email : "");
	s->date = gitsrc_date(a->when.time, a->when.offset);
	s->info.time = (int64_t)git_commit_time(c);
	s->info.tz_minutes = git_commit_time_offset(c);
	sum = git_commit_summary(c);
	s->message = gitsrc_subject(sum ? sum : "");
	s->ref = xstrdup(refname ? refname : "HEAD");
	if (s->kind == GITSRC_REMOTE)
		s->location = gitsrc_url_public(s->url);
	else if ((origin = gitsrc_origin_url(s->repo))) {
		s->location = gitsrc_url_public(origin);
		free(origin);
	} else
		s->location = xstrdup(s->path);
	git_commit_free(c);
	return 0;
}

/* ---- submodules ---- */

struct gitsrc_module {
	char *name, *path, *url;
};

/* Unquotes a git config value in place (quotes, \" \\ \n \t, trailing comments). */
static void gitsrc_cfg_value(char *v)
{
	char *w = v;
	int q = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == '"') {
			q = !q;
			continue;
		}
		if (!q && (*v == '#' || *v == ';'))
			break;
		if (*v == '\\' && v[1]) {
			v++;
			*w++ = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v;
			continue;
		}
		*w++ = *v;
	}
	*w = '\0';
}

static void gitsrc_rtrim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* Parses .gitmodules text: [submodule "NAME"] sections with path and url. */
static size_t gitsrc_parse_gitmodules(char *text, struct gitsrc_module **ret)
{
	struct gitsrc_module *m = NULL;
	size_t n = 0, alloc = 0;
	char *save = NULL, *line;
	struct gitsrc_module *cur = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *eq, *key;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *q1 = strchr(p, '"'), *q2 = q1 ? strrchr(q1 + 1, '"') : NULL;

			cur = NULL;
			if (!strncasecmp(p + 1, "submodule", 9) && q1 && q2 && q2 > q1 && n < GITSRC_SUBMODULES_MAX) {
				if (n == alloc) {
					alloc = alloc ? alloc * 2 : 4;
					m = xrealloc(m, alloc * sizeof(*m));
				}
				cur = &m[n++];
				cur->name = xstrndup(q1 + 1, (size_t)(q2 - q1 - 1));
				cur->path = NULL;
				cur->url = NULL;
			}
			continue;
		}
		if (!cur || !(eq = strchr(p, '=')))
			continue;
		*eq = '\0';
		key = p;
		gitsrc_rtrim(key);
		gitsrc_cfg_value(eq + 1);
		gitsrc_rtrim(eq + 1);
		if (!strcasecmp(key, "path")) {
			free(cur->path);
			cur->path = xstrdup(eq + 1);
		} else if (!strcasecmp(key, "url")) {
			free(cur->url);
			cur->url = xstrdup(eq + 1);
		}
	}
	*ret = m;
	return n;
}

static void gitsrc_modules_free(struct gitsrc_module *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].path);
		free(m[i].url);
	}
	free(m);
}

/* Reads a blob at path of tree into a NUL-terminated string; 1 if absent. */
static int gitsrc_tree_text(git_repository *repo, git_tree *tree, const char *path, size_t max,
			    char **ret, struct err *e)
{
	git_tree_entry *te = NULL;
	git_blob *b = NULL;
	git_object_size_t sz;

	if (git_tree_entry_bypath(&te, tree, path) < 0)
		return 1;
	if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		git_tree_entry_free(te);
		return 1;
	}
	if (git_blob_lookup(&b, repo, git_tree_entry_id(te)) < 0) {
		git_tree_entry_free(te);
		return gitsrc_git_err(e, "cannot read '%s'%s", path, NULL);
	}
	git_tree_entry_free(te);
	sz = git_blob_rawsize(b);
	if (sz > max) {
		git_blob_free(b);
		return err_set(e, "'%s' is larger than %zu bytes", path, max);
	}
	*ret = xstrndup(git_blob_rawcontent(b), (size_t)sz);
	git_blob_free(b);
	return 0;
}

/* A repository that has commit: a work tree's checked-out submodule or .git/modules. */
static git_repository *gitsrc_local_module(struct gitsrc *s, const char *path, const char *name,
					   const git_oid *commit)
{
	git_repository *r = NULL;
	char *p;

	if (s->kind != GITSRC_WORKTREE)
		return NULL;
	p = xasprintf("%s/%s", s->path, path);
	if (git_repository_open_ext(&r, p, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0 &&
	    gitsrc_has_commit(r, commit)) {
		free(p);
		return r;
	}
	git_repository_free(r);
	r = NULL;
	free(p);
	p = xasprintf("%s/modules/%s", git_repository_path(s->repo), name);
	if (git_repository_open_ext(&r, p, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL) == 0 &&
	    gitsrc_has_commit(r, commit)) {
		free(p);
		return r;
	}
	git_repository_free(r);
	free(p);
	return NULL;
}

static int gitsrc_subs_resolve(struct gitsrc *s, git_repository *repo, git_tree *tree,
			       const char *prefix, const char *parent_url, int depth, struct err *e);

static int gitsrc_sub_add(struct gitsrc *s, const struct gitsrc_module *m, const git_oid *commit,
			  const char *full, const char *parent_url, int depth, struct err *e)
{
	struct gitsrc_sub *sub;
	git_repository *r = NULL;
	git_commit *c = NULL;
	char *url;
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), commit);
	if (s->nsubs >= GITSRC_SUBMODULES_MAX)
		return err_set(e, "more than %d submodules", GITSRC_SUBMODULES_MAX);
	if (!strncmp(m->url, "./", 2) || !strncmp(m->url, "../", 3))
		url = gitsrc_relative_url(parent_url, m->url);
	else
		url = xstrdup(m->url);
	r = gitsrc_local_module(s, full, m->name, commit);
	if (!r) {
		char *dir, *name;

		if (!*s->modules_dir) {
			const char *tmp = getenv("TMPDIR");

			if (!s->tmpdir) {
				s->tmpdir = xasprintf("%s/s2i-agent-git-XXXXXX", tmp && *tmp ? tmp : "/tmp");
				if (!mkdtemp(s->tmpdir)) {
					err_errno(e, "cannot create a temporary directory '%s'", s->tmpdir);
					free(s->tmpdir);
					s->tmpdir = NULL;
					free(url);
					return -1;
				}
			}
			free(s->modules_dir);
			s->modules_dir = xasprintf("%s/modules", s->tmpdir);
		}
		name = gitsrc_mirror_name(url);
		dir = xasprintf("%s/%s", s->modules_dir, name);
		free(name);
		if (mkdir(s->modules_dir, 0700) < 0 && errno != EEXIST) {
			err_errno(e, "cannot create '%s'", s->modules_dir);
			free(dir);
			free(url);
			return -1;
		}
		if (gitsrc_mirror_open(dir, &r, e) < 0) {
			free(dir);
			free(url);
			return -1;
		}
		free(dir);
		if (!gitsrc_has_commit(r, commit) && gitsrc_is_local(url)) {
			char *lref = NULL;

			if (gitsrc_fetch_local(s, r, url, NULL, commit, &lref, e) < 0) {
				err_prefix(e, "submodule '%s'", full);
				goto fail;
			}
			free(lref);
		} else if (!gitsrc_has_commit(r, commit)) {
			/* the gitlink commit is usually on a branch: fetch the branches; then
			 * by id for servers that allow it */
			struct gitsrc_conn cn;
			git_remote *remote = NULL;
			const char *all[1] = { "+refs/heads/*:refs/heads/*" };
			char *byid = xasprintf("+%s:refs/s2i-agent/fetched", hex);
			struct err e2 = ERR_INIT;

			if (gitsrc_connect(s, r, url, &cn, &remote, e) < 0) {
				err_prefix(e, "submodule '%s'", full);
				free(byid);
				goto fail;
			}
			if (gitsrc_download(s, r, remote, &cn, all, 1, &e2) < 0 || !gitsrc_has_commit(r, commit))
				gitsrc_download(s, r, remote, &cn, (const char *const *)&byid, 1, &e2);
			free(byid);
			git_remote_disconnect(remote);
			git_remote_free(remote);
			if (!gitsrc_has_commit(r, commit)) {
				err_set(e, "submodule '%s': commit %s not found at '%s'%s%s", full, hex, url,
					e2.msg[0] ? ": " : "", e2.msg);
				goto fail;
			}
		}
	}
	if (git_commit_lookup(&c, r, commit) < 0) {
		gitsrc_git_err(e, "submodule '%s': cannot read commit %s", full, hex);
		goto fail;
	}
	s->subs = xrealloc(s->subs, (s->nsubs + 1) * sizeof(*s->subs));
	sub = &s->subs[s->nsubs++];
	memset(sub, 0, sizeof(*sub));
	sub->path = xstrdup(full);
	sub->url = url;
	sub->repo = r;
	git_oid_cpy(&sub->commit, commit);
	if (git_commit_tree(&sub->tree, c) < 0) {
		git_commit_free(c);
		return gitsrc_git_err(e, "submodule '%s': cannot read the tree of %s", full, hex);
	}
	git_commit_free(c);
	return gitsrc_subs_resolve(s, r, sub->tree, full, url, depth + 1, e);
fail:
	git_repository_free(r);
	free(url);
	return -1;
}

static int gitsrc_subs_resolve(struct gitsrc *s, git_repository *repo, git_tree *tree,
			       const char *prefix, const char *parent_url, int depth, struct err *e)
{
	struct gitsrc_module *mods = NULL;
	char *text = NULL;
	size_t n, i;
	int rc;

	rc = gitsrc_tree_text(repo, tree, ".gitmodules", GITSRC_GITMODULES_MAX, &text, e);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (depth > GITSRC_SUBMODULE_DEPTH) {
		free(text);
		return err_set(e, "submodules nested deeper than %d levels at '%s'", GITSRC_SUBMODULE_DEPTH, prefix);
	}
	n = gitsrc_parse_gitmodules(text, &mods);
	free(text);
	rc = 0;
	for (i = 0; i < n && rc == 0; i++) {
		git_tree_entry *te = NULL;
		char *full;

		if (!mods[i].path || !mods[i].url || !*mods[i].path)
			continue;
		if (git_tree_entry_bypath(&te, tree, mods[i].path) < 0)
			continue;	/* declared but not in this commit */
		if (git_tree_entry_filemode(te) != GIT_FILEMODE_COMMIT) {
			git_tree_entry_free(te);
			continue;
		}
		full = *prefix ? xasprintf("%s/%s", prefix, mods[i].path) : xstrdup(mods[i].path);
		rc = gitsrc_sub_add(s, &mods[i], git_tree_entry_id(te), full, parent_url, depth, e);
		free(full);
		git_tree_entry_free(te);
	}
	gitsrc_modules_free(mods, n);
	return rc;
}

static void gitsrc_subs_free(struct gitsrc *s)
{
	size_t i;

	for (i = 0; i < s->nsubs; i++) {
		free(s->subs[i].path);
		free(s->subs[i].url);
		git_tree_free(s->subs[i].tree);
		git_repository_free(s->subs[i].repo);
	}
	free(s->subs);
	s->subs = NULL;
	s->nsubs = 0;
}

static struct gitsrc_sub *gitsrc_sub_find(struct gitsrc *s, const char *full)
{
	size_t i;

	for (i = 0; i < s->nsubs; i++)
		if (!strcmp(s->subs[i].path, full))
			return &s->subs[i];
	return NULL;
}

/* ---- locating paths across submodules ---- */

/* Where a path of the resolved source lives: the repository and tree entry. */
struct gitsrc_loc {
	git_repository *repo;
	git_tree *tree;		/* set when the path is a directory (owned) */
	git_tree_entry *te;	/* set when it is not (owned); both NULL for the root */
};

static void gitsrc_loc_release(struct gitsrc_loc *l)
{
	git_tree_free(l->tree);
	git_tree_entry_free(l->te);
	memset(l, 0, sizeof(*l));
}

/* 0 found, 1 absent, -1 error. path is from the top of the repository. */
static int gitsrc_locate(struct gitsrc *s, const char *path, struct gitsrc_loc *l, struct err *e)
{
	struct buf full = BUF_INIT(GITSRC_PATH_MAX);
	const char *p = path;
	int rc = 1;

	memset(l, 0, sizeof(*l));
	l->repo = s->repo;
	if (git_tree_dup(&l->tree, s->tree) < 0)
		return gitsrc_git_err(e, "cannot read tree%s%s", "", NULL);
	while (*p) {
		size_t n = strcspn(p, "/");
		git_tree_entry *te;
		char comp[256];

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(comp) || !l->tree)
			goto out;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (full.len)
			buf_addch(&full, '/');
		buf_add(&full, p, n);
		p += n;
		if (git_tree_entry_bypath(&te, l->tree, comp) < 0)
			goto out;
		if (git_tree_entry_filemode(te) == GIT_FILEMODE_TREE) {
			git_tree *sub = NULL;

			if (git_tree_lookup(&sub, l->repo, git_tree_entry_id(te)) < 0) {
				git_tree_entry_free(te);
				rc = gitsrc_git_err(e, "cannot read tree '%s'%s", full.data, NULL);
				goto out;
			}
			git_tree_entry_free(te);
			git_tree_free(l->tree);
			l->tree = sub;
		} else if (git_tree_entry_filemode(te) == GIT_FILEMODE_COMMIT) {
			struct gitsrc_sub *sm = gitsrc_sub_find(s, full.data);

			git_tree_entry_free(te);
			git_tree_free(l->tree);
			l->tree = NULL;
			if (!sm)
				goto out;
			l->repo = sm->repo;
			if (git_tree_dup(&l->tree, sm->tree) < 0) {
				rc = gitsrc_git_err(e, "cannot read tree '%s'%s", full.data, NULL);
				goto out;
			}
		} else {
			git_tree_free(l->tree);
			l->tree = NULL;
			l->te = te;
			while (*p == '/')
				p++;
			if (*p) {	/* a path below a file */
				gitsrc_loc_release(l);
				goto out;
			}
		}
	}
	rc = 0;
out:
	buf_release(&full);
	if (rc != 0)
		gitsrc_loc_release(l);
	return rc;
}

/* ---- resolve ---- */

static int gitsrc_lock(const char *mirror, int *ret_fd, struct err *e)
{
	char *p = xasprintf("%s.lock", mirror);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		err_errno(e, "cannot open '%s'", p);
		free(p);
		return -1;
	}
	free(p);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return err_errno(e, "cannot lock mirror '%s'", mirror);
		}
	}
	*ret_fd = fd;
	return 0;
}

static int gitsrc_check_ctx_plain(struct gitsrc *s, struct err *e)
{
	char *p;
	struct stat st;
	int rc = 0;

	if (!*s->ctx)
		return 0;
	p = xasprintf("%s/%s", s->path, s->ctx);
	if (lstat(p, &st) < 0)
		rc = err_errno(e, "context dir '%s' in '%s'", s->ctx, s->path);
	else if (!S_ISDIR(st.st_mode))
		rc = err_set(e, "context dir '%s' in '%s' is not a directory", s->ctx, s->path);
	free(p);
	return rc;
}

/* The short name of a ref for metadata. */
static char *gitsrc_shorthand(const char *full)
{
	if (!strncmp(full, "refs/heads/", 11))
		return xstrdup(full + 11);
	if (!strncmp(full, "refs/tags/", 10))
		return xstrdup(full + 10);
	if (!strncmp(full, "refs/remotes/", 13))
		return xstrdup(full + 13);
	if (!strncmp(full, "refs/s2i-agent/", 15))
		return xstrdup("HEAD");
	return xstrdup(full);
}

int gitsrc_resolve(struct gitsrc *s, const char *ref, const char *sha, struct err *e)
{
	git_object *obj = NULL, *peeled = NULL;
	git_oid want;
	int have_want = 0, lockfd = -1, rc = -1;
	char *local = NULL, *refname = NULL;
	git_commit *c = NULL;

	gitsrc_info_clear(s);
	gitsrc_subs_free(s);
	git_tree_free(s->tree);
	s->tree = NULL;
	s->resolved = 0;
	memset(&s->stats, 0, sizeof(s->stats));
	if (ref && !*ref)
		ref = NULL;
	if (sha && *sha) {
		if (gitsrc_hexlen(sha) != GIT_OID_HEXSZ || git_oid_fromstr(&want, sha) < 0)
			return err_set(e, "'%s' is not a full commit id", sha);
		have_want = 1;
	}
	if (s->kind == GITSRC_PLAIN) {
		if (ref || have_want)
			return err_set(e, "source '%s' is not a git repository: --ref cannot be used", s->path);
		if (gitsrc_check_ctx_plain(s, e) < 0)
			return -1;
		gitsrc_info_fill(s);
		s->resolved = 1;
		return 0;
	}
	if (s->kind == GITSRC_REMOTE) {
		if (!s->tmpdir && gitsrc_lock(s->path, &lockfd, e) < 0)
			return -1;
		if (gitsrc_fetch(s, s->repo, s->url, ref, have_want ? &want : NULL, &local, e) < 0)
			goto out;
	}
	if (have_want) {
		if (git_object_lookup(&obj, s->repo, &want, GIT_OBJECT_ANY) < 0) {
			gitsrc_git_err(e, "commit %s not found in '%s'", sha, s->kind == GITSRC_REMOTE ? s->url : s->path);
			goto out;
		}
		refname = ref ? gitsrc_shorthand(ref) : NULL;
	} else if (local) {
		git_reference *r = NULL;

		if (git_reference_lookup(&r, s->repo, local) < 0 ||
		    git_reference_peel(&obj, r, GIT_OBJECT_ANY) < 0) {
			git_reference_free(r);
			gitsrc_git_err(e, "cannot resolve '%s' in '%s'", local, s->path);
			goto out;
		}
		git_reference_free(r);
		refname = gitsrc_shorthand(local);
	} else if (s->kind == GITSRC_REMOTE) {
		/* a full sha that was already present */
		if (git_revparse_single(&obj, s->repo, ref) < 0) {
			gitsrc_git_err(e, "cannot resolve '%s' in '%s'", ref, s->url);
			goto out;
		}
		refname = xstrdup("HEAD");
	} else {
		git_reference *r = NULL;

		if (!ref) {
			if (git_repository_head(&r, s->repo) < 0) {
				gitsrc_git_err(e, "cannot resolve HEAD in '%s'%s", s->path, NULL);
				goto out;
			}
			refname = git_reference_is_branch(r) ? xstrdup(git_reference_shorthand(r)) : xstrdup("HEAD");
			if (git_reference_peel(&obj, r, GIT_OBJECT_ANY) < 0) {
				git_reference_free(r);
				gitsrc_git_err(e, "cannot resolve HEAD in '%s'%s", s->path, NULL);
				goto out;
			}
			git_reference_free(r);
		} else {
			if (git_reference_dwim(&r, s->repo, ref) == 0) {
				refname = xstrdup(git_reference_shorthand(r));
				git_reference_free(r);
			} else
				refname = xstrdup("HEAD");
			if (git_revparse_single(&obj, s->repo, ref) < 0) {
				gitsrc_git_err(e, "ref '%s' not found in '%s'", ref, s->path);
				goto out;
			}
		}
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), git_object_id(obj));
		gitsrc_git_err(e, "'%s' (%s) is not a commit", ref ? ref : sha ? sha : "HEAD", hex);
		goto out;
	}
	git_oid_cpy(&s->commit, git_object_id(peeled));
	git_oid_tostr(s->id, sizeof(s->id), &s->commit);
	if (git_commit_lookup(&c, s->repo, &s->commit) < 0 || git_commit_tree(&s->tree, c) < 0) {
		gitsrc_git_err(e, "cannot read the tree of commit %s%s", s->id, NULL);
		goto out;
	}
	if (gitsrc_metadata(s, refname, e) < 0)
		goto out;
	if (!s->ignore_submodules) {
		char *origin = s->kind == GITSRC_REMOTE ? xstrdup(s->url) : gitsrc_origin_url(s->repo);

		if (gitsrc_subs_resolve(s, s->repo, s->tree, "", origin ? origin : s->path, 0, e) < 0) {
			free(origin);
			goto out;
		}
		free(origin);
	}
	if (*s->ctx) {
		struct gitsrc_loc l;
		int lr = gitsrc_locate(s, s->ctx, &l, e);

		if (lr < 0)
			goto out;
		if (lr > 0 || !l.tree) {
			gitsrc_loc_release(&l);
			err_set(e, "context dir '%s' is not a directory in commit %s", s->ctx, s->id);
			goto out;
		}
		gitsrc_loc_release(&l);
	}
	gitsrc_info_fill(s);
	s->resolved = 1;
	rc = 0;
out:
	if (rc < 0) {
		gitsrc_subs_free(s);
		gitsrc_info_clear(s);
		git_tree_free(s->tree);
		s->tree = NULL;
	}
	git_commit_free(c);
	git_object_free(obj);
	git_object_free(peeled);
	free(local);
	free(refname);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

/* ---- accessors ---- */

enum gitsrc_kind gitsrc_kind(const struct gitsrc *s)
{
	return s->kind;
}

int gitsrc_is_git(const struct gitsrc *s)
{
	return s->kind != GITSRC_PLAIN;
}

const struct gitsrc_info *gitsrc_info(const struct gitsrc *s)
{
	return &s->info;
}

const struct gitsrc_fetch_stats *gitsrc_fetch_stats(const struct gitsrc *s)
{
	return &s->stats;
}

const char *gitsrc_path(const struct gitsrc *s)
{
	return s->path;
}

const char *gitsrc_context_dir(const struct gitsrc *s)
{
	return s->ctx;
}

/* ---- walking ---- */

struct gitsrc_walker {
	struct gitsrc *s;
	gitsrc_walk_fn fn;
	void *ctx;
	struct buf full;	/* path from the top (submodule lookup) */
	size_t rel;		/* offset of the path relative to the context dir in full */
	int64_t count;
};

static int gitsrc_walk_tree(struct gitsrc_walker *w, git_repository *repo, git_tree *tree,
			    struct err *e)
{
	size_t i, n = git_tree_entrycount(tree), mark = w->full.len;
	git_odb *odb = NULL;
	int rc = 0;

	if (git_repository_odb(&odb, repo) < 0)
		return gitsrc_git_err(e, "cannot open the object database%s%s", "", NULL);
	for (i = 0; i < n && rc == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		git_filemode_t fm = git_tree_entry_filemode(te);
		struct gitsrc_entry ent;
		struct gitsrc_blob blob;
		git_tree *sub = NULL;
		git_repository *subrepo = repo;
		char *link = NULL;

		w->full.len = mark;
		w->full.data[mark] = '\0';
		if ((w->full.len && buf_addch(&w->full, '/') < 0) || buf_addstr(&w->full, name) < 0) {
			rc = err_set(e, "path too long under '%s'", w->full.data);
			break;
		}
		memset(&ent, 0, sizeof(ent));
		ent.path = w->full.data + w->rel;
		blob.repo = repo;
		git_oid_cpy(&blob.oid, git_tree_entry_id(te));
		ent.priv = &blob;
		switch (fm) {
		case GIT_FILEMODE_TREE:
		case GIT_FILEMODE_COMMIT:
			ent.mode = S_IFDIR | 0755;
			rc = w->fn(w->ctx, &ent, e);
			if (rc != 0) {
				rc = rc == 1 ? 0 : -1;
				continue;
			}
			if (fm == GIT_FILEMODE_TREE) {
				if (git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0) {
					rc = gitsrc_git_err(e, "cannot read tree '%s'%s", w->full.data, NULL);
					break;
				}
			} else {
				struct gitsrc_sub *sm = w->s->ignore_submodules ? NULL :
							gitsrc_sub_find(w->s, w->full.data);

				if (!sm)
					continue;	/* ignored or unknown gitlink: empty dir */
				subrepo = sm->repo;
				if (git_tree_dup(&sub, sm->tree) < 0) {
					rc = gitsrc_git_err(e, "cannot read tree '%s'%s", w->full.data, NULL);
					break;
				}
			}
			rc = gitsrc_walk_tree(w, subrepo, sub, e);
			git_tree_free(sub);
			break;
		case GIT_FILEMODE_BLOB:
		case GIT_FILEMODE_BLOB_EXECUTABLE: {
			size_t len;
			git_object_t type;

			if (git_odb_read_header(&len, &type, odb, &blob.oid) < 0) {
				rc = gitsrc_git_err(e, "cannot read '%s'%s", w->full.data, NULL);
				break;
			}
			ent.mode = S_IFREG | (fm == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
			ent.size = len;
			rc = w->fn(w->ctx, &ent, e) < 0 ? -1 : 0;
			break;
		}
		case GIT_FILEMODE_LINK: {
			git_blob *b = NULL;
			git_object_size_t sz;

			if (git_blob_lookup(&b, repo, &blob.oid) < 0) {
				rc = gitsrc_git_err(e, "cannot read link '%s'%s", w->full.data, NULL);
				break;
			}
			sz = git_blob_rawsize(b);
			if (sz >= GITSRC_PATH_MAX) {
				git_blob_free(b);
				rc = err_set(e, "link target of '%s' is too long", w->full.data);
				break;
			}
			link = xstrndup(git_blob_rawcontent(b), (size_t)sz);
			git_blob_free(b);
			ent.mode = S_IFLNK | 0777;
			ent.size = strlen(link);
			ent.link = link;
			rc = w->fn(w->ctx, &ent, e) < 0 ? -1 : 0;
			free(link);
			break;
		}
		default:
			break;
		}
	}
	w->full.len = mark;
	w->full.data[mark] = '\0';
	git_odb_free(odb);
	return rc;
}

int gitsrc_walk(struct gitsrc *s, gitsrc_walk_fn fn, void *ctx, struct err *e)
{
	struct gitsrc_walker w;
	struct gitsrc_loc l;
	int rc;

	if (s->kind == GITSRC_PLAIN)
		return err_set(e, "source '%s' is not a git repository", s->path);
	if (!s->resolved)
		return err_set(e, "source '%s' has not been resolved", s->source);
	rc = gitsrc_locate(s, s->ctx, &l, e);
	if (rc != 0 || !l.tree) {
		gitsrc_loc_release(&l);
		return rc < 0 ? -1 : err_set(e, "context dir '%s' is not a directory in commit %s", s->ctx, s->id);
	}
	memset(&w, 0, sizeof(w));
	w.s = s;
	w.fn = fn;
	w.ctx = ctx;
	buf_init(&w.full, GITSRC_PATH_MAX);
	buf_addstr(&w.full, s->ctx);
	w.rel = *s->ctx ? strlen(s->ctx) + 1 : 0;
	rc = gitsrc_walk_tree(&w, l.repo, l.tree, e);
	buf_release(&w.full);
	gitsrc_loc_release(&l);
	return rc;
}

/* ---- large blobs straight from a pack ----
 * libgit2 1.5 streams loose objects only; a packed blob is inflated whole into memory.
 * A large blob stored undeltified (how big files usually are) is inflated here from its
 * pack in chunks instead, so a big file costs GITSRC_CHUNK of memory, not its size. */

static uint32_t gitsrc_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Offset of oid in the pack of the .idx (v2) at idxfd; 1 when absent. */
static int gitsrc_idx_find(int idxfd, const git_oid *oid, uint64_t *ret_off)
{
	unsigned char h[8], fan[8], sha[GIT_OID_RAWSZ], o[8];
	uint32_t lo = 0, hi, total, first = oid->id[0];

	if (pread(idxfd, h, 8, 0) != 8 || memcmp(h, "\377tOc", 4) || gitsrc_be32(h + 4) != 2)
		return 1;
	if (pread(idxfd, o, 4, 8 + 255 * 4) != 4)
		return 1;
	total = gitsrc_be32(o);
	if (first > 0) {
		if (pread(idxfd, fan, 8, 8 + (first - 1) * 4) != 8)
			return 1;
		lo = gitsrc_be32(fan);
		hi = gitsrc_be32(fan + 4);
	} else {
		if (pread(idxfd, fan, 4, 8) != 4)
			return 1;
		hi = gitsrc_be32(fan);
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c;

		if (pread(idxfd, sha, GIT_OID_RAWSZ, 8 + 256 * 4 + (off_t)mid * GIT_OID_RAWSZ) != GIT_OID_RAWSZ)
			return 1;
		c = memcmp(sha, oid->id, GIT_OID_RAWSZ);
		if (c == 0) {
			off_t base = 8 + 256 * 4 + (off_t)total * (GIT_OID_RAWSZ + 4);
			uint32_t v;

			if (pread(idxfd, o, 4, base + (off_t)mid * 4) != 4)
				return 1;
			v = gitsrc_be32(o);
			if (v & 0x80000000u) {
				off_t big = base + (off_t)total * 4 + (off_t)(v & 0x7fffffffu) * 8;

				if (pread(idxfd, o, 8, big) != 8)
					return 1;
				*ret_off = (uint64_t)gitsrc_be32(o) << 32 | gitsrc_be32(o + 4);
			} else
				*ret_off = v;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 1;
}

/* 0 streamed, 1 not applicable (not packed here, deltified), -1 error. */
static int gitsrc_pack_stream(git_repository *repo, const git_oid *oid, uint64_t size, const char *name,
			      gitsrc_sink_fn sink, void *ctx, struct err *e)
{
	char *dir = xasprintf("%sobjects/pack", git_repository_commondir(repo));
	DIR *d = opendir(dir);
	struct dirent *de;
	int packfd = -1, rc = 1;
	uint64_t off = 0;

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *p;
		int idx;

		if (len < 5 || strcmp(de->d_name + len - 4, ".idx") || strncmp(de->d_name, "pack-", 5))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		idx = open(p, O_RDONLY | O_CLOEXEC);
		if (idx >= 0 && gitsrc_idx_find(idx, oid, &off) == 0) {
			char *pack = xasprintf("%.*s.pack", (int)(strlen(p) - 4), p);

			packfd = open(pack, O_RDONLY | O_CLOEXEC);
			free(pack);
		}
		if (idx >= 0)
			close(idx);
		free(p);
		if (packfd >= 0)
			break;
	}
	if (d)
		closedir(d);
	free(dir);
	if (packfd < 0)
		return 1;
	{
		unsigned char hdr[16], *in = NULL, *out = NULL;
		uint64_t osize, done = 0;
		z_stream z;
		ssize_t n;
		int i = 0, shift, zr = Z_OK;
		off_t pos;

		n = pread(packfd, hdr, sizeof(hdr), (off_t)off);
		if (n < 2)
			goto close;
		if (((hdr[0] >> 4) & 7) != 3)	/* not a plain blob entry (a delta) */
			goto close;
		osize = hdr[0] & 15;
		shift = 4;
		while ((hdr[i] & 0x80) && i + 1 < n && shift < 64) {
			i++;
			osize |= (uint64_t)(hdr[i] & 0x7f) << shift;
			shift += 7;
		}
		if (hdr[i] & 0x80 || osize != size)
			goto close;
		pos = (off_t)off + i + 1;
		memset(&z, 0, sizeof(z));
		if (inflateInit(&z) != Z_OK)
			goto close;
		in = xmalloc(GITSRC_CHUNK);
		out = xmalloc(GITSRC_CHUNK);
		rc = -1;
		while (zr != Z_STREAM_END) {
			if (z.avail_in == 0) {
				n = pread(packfd, in, GITSRC_CHUNK, pos);
				if (n <= 0) {
					err_set(e, "'%s': pack ends inside the object", name);
					break;
				}
				pos += n;
				z.next_in = in;
				z.avail_in = (uInt)n;
			}
			z.next_out = out;
			z.avail_out = GITSRC_CHUNK;
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END) {
				err_set(e, "'%s': corrupt packed object (zlib %d)", name, zr);
				break;
			}
			n = (ssize_t)(GITSRC_CHUNK - z.avail_out);
			if (done + (uint64_t)n > size) {
				err_set(e, "'%s': packed object larger than recorded", name);
				break;
			}
			if (n > 0 && sink(ctx, out, (size_t)n, e) < 0)
				break;
			done += (uint64_t)n;
		}
		if (zr == Z_STREAM_END && done == size)
			rc = 0;
		else if (zr == Z_STREAM_END)
			err_set(e, "'%s': short packed object (%llu of %llu bytes)", name,
				(unsigned long long)done, (unsigned long long)size);
		inflateEnd(&z);
		free(in);
		free(out);
	}
close:
	close(packfd);
	return rc;
}

int gitsrc_entry_read(struct gitsrc *s, const struct gitsrc_entry *ent, gitsrc_sink_fn sink,
		      void *ctx, struct err *e)
{
	const struct gitsrc_blob *b = ent->priv;
	git_odb *odb = NULL;
	git_odb_stream *st = NULL;
	git_object_t type;
	size_t len;
	uint64_t done = 0;
	int rc = -1;

	(void)s;
	if (!S_ISREG(ent->mode) || !b)
		return err_set(e, "'%s' is not a regular file", ent->path);
	if (ent->size >= GITSRC_STREAM_MIN) {
		int r = gitsrc_pack_stream(b->repo, &b->oid, ent->size, ent->path, sink, ctx, e);

		if (r <= 0)
			return r;
	}
	if (git_repository_odb(&odb, b->repo) < 0)
		return gitsrc_git_err(e, "cannot open the object database for '%s'%s", ent->path, NULL);
	if (git_odb_open_rstream(&st, &len, &type, odb, &b->oid) == 0) {
		char *chunk = xmalloc(GITSRC_CHUNK);

		if (len != ent->size) {
			err_set(e, "'%s' changed size while reading", ent->path);
			free(chunk);
			goto out;
		}
		while (done < len) {
			int n = git_odb_stream_read(st, chunk, GITSRC_CHUNK);

			if (n < 0) {
				gitsrc_git_err(e, "cannot read '%s'%s", ent->path, NULL);
				free(chunk);
				goto out;
			}
			if (n == 0)
				break;
			if ((uint64_t)n > len - done)
				n = (int)(len - done);
			if (sink(ctx, chunk, (size_t)n, e) < 0) {
				free(chunk);
				goto out;
			}
			done += (uint64_t)n;
		}
		free(chunk);
	} else {
		git_odb_object *o = NULL;
		const char *data;

		if (git_odb_read(&o, odb, &b->oid) < 0) {
			gitsrc_git_err(e, "cannot read '%s'%s", ent->path, NULL);
			goto out;
		}
		len = git_odb_object_size(o);
		data = git_odb_object_data(o);
		if (len != ent->size) {
			git_odb_object_free(o);
			err_set(e, "'%s' changed size while reading", ent->path);
			goto out;
		}
		while (done < len) {
			size_t n = len - done > GITSRC_CHUNK ? GITSRC_CHUNK : (size_t)(len - done);

			if (sink(ctx, data + done, n, e) < 0) {
				git_odb_object_free(o);
				goto out;
			}
			done += n;
		}
		git_odb_object_free(o);
	}
	if (done != ent->size) {
		err_set(e, "'%s': short read (%llu of %llu bytes)", ent->path, (unsigned long long)done,
			(unsigned long long)ent->size);
		goto out;
	}
	rc = 0;
out:
	if (st)
		git_odb_stream_free(st);
	git_odb_free(odb);
	return rc;
}

/* ---- single files ---- */

static int gitsrc_read_disk(struct gitsrc *s, const char *rel, size_t max, struct buf *out,
			    unsigned *ret_mode, struct err *e)
{
	int dfd, fd = -1, rc = -1;
	char *path = *s->ctx ? xasprintf("%s/%s", s->ctx, rel) : xstrdup(rel);
	char *p = path, *slash;
	struct stat st;

	dfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err_errno(e, "cannot open '%s'", s->path);
		free(path);
		return -1;
	}
	/* component by component, never following a link */
	while ((slash = strchr(p, '/'))) {
		int nfd;

		*slash = '\0';
		if (*p && strcmp(p, ".")) {
			if (!strcmp(p, "..")) {
				rc = 1;
				goto out;
			}
			nfd = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				rc = (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) ? 1 :
					err_errno(e, "cannot open '%s/%s'", s->path, path);
				goto out;
			}
			close(dfd);
			dfd = nfd;
		}
		p = slash + 1;
	}
	fd = openat(dfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) ? 1 :
			err_errno(e, "cannot open '%s' in '%s'", rel, s->path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		err_errno(e, "cannot stat '%s'", rel);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = 1;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err_set(e, "'%s' is larger than %zu bytes", rel, max);
		goto out;
	}
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read '%s'", rel);
			goto out;
		}
		if (n == 0)
			break;
		if (buf_add(out, chunk, (size_t)n) < 0) {
			err_set(e, "'%s' is larger than %zu bytes", rel, max);
			goto out;
		}
	}
	if (ret_mode)
		*ret_mode = (st.st_mode & 0111) ? 0755 : 0644;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	free(path);
	return rc;
}

int gitsrc_read_file(struct gitsrc *s, const char *path, size_t max, struct buf *out,
		     unsigned *ret_mode, struct err *e)
{
	struct gitsrc_loc l;
	git_blob *b = NULL;
	char *full;
	int rc;
	git_filemode_t fm;

	if (!s->resolved)
		return err_set(e, "source '%s' has not been resolved", s->source);
	if (s->kind == GITSRC_PLAIN)
		return gitsrc_read_disk(s, path, max, out, ret_mode, e);
	full = *s->ctx ? xasprintf("%s/%s", s->ctx, path) : xstrdup(path);
	rc = gitsrc_locate(s, full, &l, e);
	free(full);
	if (rc != 0)
		return rc;
	if (!l.te) {
		gitsrc_loc_release(&l);
		return 1;
	}
	fm = git_tree_entry_filemode(l.te);
	if (fm != GIT_FILEMODE_BLOB && fm != GIT_FILEMODE_BLOB_EXECUTABLE) {
		gitsrc_loc_release(&l);
		return 1;
	}
	if (git_blob_lookup(&b, l.repo, git_tree_entry_id(l.te)) < 0) {
		gitsrc_loc_release(&l);
		return gitsrc_git_err(e, "cannot read '%s'%s", path, NULL);
	}
	rc = 0;
	if (git_blob_rawsize(b) > max)
		rc = err_set(e, "'%s' is larger than %zu bytes", path, max);
	else if (buf_add(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b)) < 0)
		rc = err_set(e, "'%s' does not fit in %zu bytes", path, out->max);
	else if (ret_mode)
		*ret_mode = fm == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
	git_blob_free(b);
	gitsrc_loc_release(&l);
	return rc;
}

void gitsrc_free(struct gitsrc *s)
{
	if (!s)
		return;
	gitsrc_subs_free(s);
	gitsrc_info_clear(s);
	git_tree_free(s->tree);
	git_repository_free(s->repo);
	if (s->tmpdir)
		gitsrc_rm_rf(s->tmpdir);
	if (s->token) {
		explicit_bzero(s->token, strlen(s->token));
		free(s->token);
	}
	free(s->tmpdir);
	free(s->modules_dir);
	free(s->source);
	free(s->path);
	free(s->url);
	free(s->ctx);
	free(s->known_hosts);
	free(s->ssh_key);
	free(s->token_user);
	free(s);
}
