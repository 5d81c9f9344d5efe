/* gitsrc_gc: repacking a bare mirror into one pack of what its refs reach, and
 * deleting the older packs and loose objects (libgit2 has no gc). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "gitsrc_int.h"
#include "limits.h"

/* The files of objects/pack (pack, idx, rev, ...) and of the loose object
 * directories, with their number and bytes. */
struct gitsrc_gc_files {
	struct strv paths;
	unsigned packs, loose;
	uint64_t bytes;
};

static void gitsrc_gc_scan_dir(struct gitsrc_gc_files *f, const char *dir, int packdir)
{
	struct dirent *d;
	struct stat sb;
	DIR *dh = opendir(dir);
	char *p;

	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, d->d_name);
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
			strv_push(&f->paths, p);
			f->bytes += (uint64_t)sb.st_size;
			if (!packdir)
				f->loose++;
			else if (strlen(d->d_name) > 5 && !strcmp(d->d_name + strlen(d->d_name) - 5, ".pack"))
				f->packs++;
		}
		free(p);
	}
	closedir(dh);
}

static void gitsrc_gc_scan(struct gitsrc_gc_files *f, const char *objects)
{
	char *p;
	int i;

	p = xasprintf("%s/pack", objects);
	gitsrc_gc_scan_dir(f, p, 1);
	free(p);
	for (i = 0; i < 256; i++) {
		p = xasprintf("%s/%02x", objects, i);
		gitsrc_gc_scan_dir(f, p, 0);
		free(p);
	}
}

/* Every object the refs reach, into pb: commits and what they hold through the walk,
 * annotated tags themselves. */
static int gitsrc_gc_fill(git_repository *repo, git_packbuilder *pb, struct err *e)
{
	git_reference_iterator *it = NULL;
	git_revwalk *walk = NULL;
	git_reference *r;
	int rc = -1;

	if (git_revwalk_new(&walk, repo) < 0 || git_reference_iterator_new(&it, repo) < 0) {
		gitsrc_git_err(e, "cannot list the refs of '%s'%s", git_repository_path(repo), NULL);
		goto out;
	}
	while (git_reference_next(&r, it) == 0) {
		git_object *o = NULL, *c = NULL;

		if (git_reference_type(r) == GIT_REFERENCE_DIRECT &&
		    git_object_lookup(&o, repo, git_reference_target(r), GIT_OBJECT_ANY) == 0) {
			if (git_object_type(o) == GIT_OBJECT_TAG)
				git_packbuilder_insert(pb, git_object_id(o), NULL);
			if (git_object_peel(&c, o, GIT_OBJECT_COMMIT) == 0)
				git_revwalk_push(walk, git_object_id(c));
		}
		git_object_free(c);
		git_object_free(o);
		git_reference_free(r);
	}
	git_error_clear();
	if (git_packbuilder_insert_walk(pb, walk) < 0) {
		gitsrc_git_err(e, "cannot pack '%s'%s", git_repository_path(repo), NULL);
		goto out;
	}
	rc = 0;
out:
	git_reference_iterator_free(it);
	git_revwalk_free(walk);
	return rc;
}

/* The repack of an open mirror, its lock held. */
static int gitsrc_gc_locked(git_repository *repo, const char *mirror, unsigned min_packs,
			    struct gitsrc_gc_stats *ret, struct err *e)
{
	struct gitsrc_gc_files before = { STRV_INIT, 0, 0, 0 }, after = { STRV_INIT, 0, 0, 0 };
	git_packbuilder *pb = NULL;
	char *objects = NULL, *packdir = NULL, *keep = NULL;
	const git_oid *name;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int rc = -1;

	objects = xasprintf("%s/objects", git_repository_path(repo));
	packdir = xasprintf("%s/pack", objects);
	gitsrc_gc_scan(&before, objects);
	if (min_packs && before.packs <= min_packs && before.loose <= GITSRC_GC_LOOSE) {
		rc = 1;
		goto out;
	}
	if (git_packbuilder_new(&pb, repo) < 0) {
		gitsrc_git_err(e, "cannot pack '%s'%s", mirror, NULL);
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	if (gitsrc_gc_fill(repo, pb, e) < 0)
		goto out;
	if (git_packbuilder_object_count(pb) > 0) {
		if (git_packbuilder_write(pb, packdir, 0, NULL, NULL) < 0) {
			gitsrc_git_err(e, "cannot write a pack into '%s'%s", packdir, NULL);
			goto out;
		}
		name = git_packbuilder_hash(pb);
		git_oid_tostr(hex, sizeof(hex), name);
		keep = xasprintf("pack-%s.", hex);
	}
	/* the new pack holds every object a ref reaches: the rest goes (the new pack's
	 * own files, when one had its name already, stay) */
	for (i = 0; i < before.paths.n; i++) {
		const char *p = before.paths.items[i], *base = strrchr(p, '/');

		if (keep && base && !strncmp(base + 1, keep, strlen(keep)))
			continue;
		if (unlink(p) < 0 && errno != ENOENT) {
			err_errno(e, "cannot remove '%s'", p);
			goto out;
		}
	}
	gitsrc_gc_scan(&after, objects);
	if (ret) {
		ret->packs = before.packs;
		ret->loose = before.loose;
		ret->bytes_before = before.bytes;
		ret->bytes_after = after.bytes;
	}
	rc = 0;
out:
	strv_clear(&before.paths);
	strv_clear(&after.paths);
	free(keep);
	free(packdir);
	free(objects);
	git_packbuilder_free(pb);
	return rc;
}

/* Deletes refs (full names; those it does not hold are skipped) and every scratch ref
 * of past fetches (refs/s2i-agent/...: each fetch makes again what it needs); *ret
 * counts them. */
static int gitsrc_gc_drop_refs(git_repository *repo, char *const *refs, size_t n,
			       unsigned *ret, struct err *e)
{
	git_reference_iterator *it = NULL;
	git_reference *r;
	size_t i;

	*ret = 0;
	for (i = 0; i < n; i++) {
		int valid = 0;

		if (strncmp(refs[i], "refs/", 5) ||
		    git_reference_name_is_valid(&valid, refs[i]) < 0 || !valid)
			continue;
		if (git_reference_lookup(&r, repo, refs[i]) < 0)
			continue;
		if (git_reference_delete(r) == 0)
			(*ret)++;
		git_reference_free(r);
	}
	if (git_reference_iterator_glob_new(&it, repo, "refs/s2i-agent/*") < 0)
		return gitsrc_git_err(e, "cannot list the refs of '%s'%s", git_repository_path(repo), NULL);
	while (git_reference_next(&r, it) == 0) {
		if (git_reference_delete(r) == 0)
			(*ret)++;
		git_reference_free(r);
	}
	git_reference_iterator_free(it);
	git_error_clear();
	return 0;
}

static int gitsrc_gc_run(const char *mirror, char *const *refs, size_t nrefs, unsigned min_packs,
			 struct gitsrc_gc_stats *ret, struct err *e)
{
	git_repository *repo = NULL;
	unsigned dropped = 0;
	int lockfd = -1, rc = -1;

	if (ret)
		memset(ret, 0, sizeof(*ret));
	if (gitsrc_lock(mirror, &lockfd, e) < 0)
		return -1;
	if (git_repository_open_bare(&repo, mirror) < 0) {
		gitsrc_git_err(e, "cannot open the mirror '%s'%s", mirror, NULL);
		goto out;
	}
	if (refs && gitsrc_gc_drop_refs(repo, refs, nrefs, &dropped, e) < 0)
		goto out;
	rc = gitsrc_gc_locked(repo, mirror, min_packs, ret, e);
	if (ret)
		ret->refs = dropped;
out:
	git_repository_free(repo);
	close(lockfd);
	return rc;
}

int gitsrc_gc(const char *mirror, unsigned min_packs, struct gitsrc_gc_stats *ret, struct err *e)
{
	return gitsrc_gc_run(mirror, NULL, 0, min_packs, ret, e);
}

int gitsrc_gc_refs(const char *mirror, char *const *refs, size_t n, struct gitsrc_gc_stats *ret,
		   struct err *e)
{
	return gitsrc_gc_run(mirror, refs, n, 0, ret, e);
}
