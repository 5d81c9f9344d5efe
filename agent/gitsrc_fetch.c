/* gitsrc_fetch: bare mirrors and what goes into them: incremental fetches of the wanted
 * ref and commit over the network, and objects copied from local repositories. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "gitsrc_int.h"
#include "limits.h"

static int gitsrc_progress_cb(const git_indexer_progress *st, void *payload)
{
	struct gitsrc_conn *c = payload;

	c->bytes = st->received_bytes;
	return 0;
}

/* Downloads specs ("+refs/heads/x:refs/heads/x", "+<sha>:refs/...") over a connected
 * remote, without tags, and updates the local refs they name. */
int gitsrc_download(struct gitsrc *s, git_repository *repo, git_remote *remote,
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

int gitsrc_connect(struct gitsrc *s, git_repository *repo, const char *url,
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

int gitsrc_probe(struct gitsrc *s, size_t *ret_nrefs, struct err *e)
{
	const git_remote_head **heads;
	git_strarray names = { NULL, 0 };
	struct gitsrc_conn c;
	git_remote *remote = NULL;
	size_t n = 0;
	int rv = -1;

	if (s->kind != GITSRC_REMOTE) {
		/* opened in place by gitsrc_open: its refs are on this machine */
		if (!s->repo || git_reference_list(&names, s->repo) < 0)
			return gitsrc_git_err(e, "cannot list the refs of '%s'%s", s->path, NULL);
		*ret_nrefs = names.count;
		git_strarray_dispose(&names);
		return 0;
	}
	if (gitsrc_connect(s, s->repo, s->url, &c, &remote, e) < 0)
		return -1;
	if (git_remote_ls(&heads, &n, remote) < 0) {
		gitsrc_git_err(e, "cannot list the refs of '%s'%s", s->url, NULL);
		goto out;
	}
	*ret_nrefs = n;
	rv = 0;
out:
	git_remote_disconnect(remote);
	git_remote_free(remote);
	return rv;
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

/* ---- local sources: objects copied by libgit2's pack builder ----
 * libgit2's local transport packs every tree of each new commit in full, so an
 * incremental fetch of a large repository would copy the whole tree again; a pack built
 * from a revwalk that hides what the mirror has contains only the new objects. */

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
		ssize_t n = read(in, buf, GITSRC_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read object file '%s'", name);
			goto out;
		}
		if (n == 0)
			break;
		if (xwrite_full(out, buf, (size_t)n) < 0) {
			err_errno(e, "cannot write object file '%s'", name);
			goto out;
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

int gitsrc_fetch_local(struct gitsrc *s, git_repository *repo, const char *url, const char *ref,
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
int gitsrc_fetch(struct gitsrc *s, git_repository *repo, const char *url, const char *ref,
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
int gitsrc_mirror_open(const char *dir, git_repository **ret, struct err *e)
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
