/* gitsrc: the source of a build as libgit2 sees it — a plain directory, a git work tree,
 * a bare repository or a URL fetched into a bare mirror — resolved to one commit. */
#ifndef S2I_GITSRC_H
#define S2I_GITSRC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * Typical use (CLI):
 *	struct gitsrc_opts o = GITSRC_OPTS_INIT;
 *	o.context_dir = "app";
 *	gitsrc_open(source, &o, &src, &e);	 classify, open/create the repository
 *	gitsrc_resolve(src, ref, NULL, &e);	 fetch if needed, peel, submodules, metadata
 *	gitsrc_info(src)->id ...		 labels
 *	srctar_add_source(tar, "src", src, NULL, &e);	 (srctar.h) the files
 *	gitsrc_free(src);			 removes a temporary clone
 * The daemon sets o.mirror_dir = "<state_dir>/git/<repo>.git" and passes the pushed sha
 * to gitsrc_resolve so exactly that commit is built.
 *
 * A gitsrc is not thread safe: use it from one thread at a time (srctar's pipe thread
 * uses it while the caller only reads the pipe).
 */

enum gitsrc_kind {
	/* a directory that is not a git repository, or one without any commit: the tar is
	 * made from the files on disk and there is no commit metadata */
	GITSRC_PLAIN,
	/* a git work tree: like `s2i build` (which clones it), the COMMITTED tree of HEAD,
	 * or of --ref, is built; uncommitted changes are not included */
	GITSRC_WORKTREE,
	/* a bare repository on this machine, read in place */
	GITSRC_BARE,
	/* https://, http://, ssh://, git://, user@host:path, file:// : fetched into a bare
	 * repository (o.mirror_dir, else a temporary one removed by gitsrc_free) */
	GITSRC_REMOTE,
};

struct gitsrc_opts {
	/* where a URL source is fetched to and kept (created on first use, later fetches
	 * are incremental). NULL: a temporary directory under $TMPDIR, removed by
	 * gitsrc_free. Submodules are mirrored beside it in "<mirror_dir>.modules/". */
	const char *mirror_dir;
	/* subdirectory of the source that is built (--context-dir, context_dir); NULL or
	 * "" for the top. No ".." components. Walks and reads are relative to it. */
	const char *context_dir;
	/* HTTPS credential: the token (e.g. repo_conf.git_token), else read from token_file.
	 * Sent as the password; the user is the URL's, else token_user, else
	 * "x-access-token" (GitHub; GitLab and Gitea accept any user with a token,
	 * GitLab OAuth tokens want "oauth2"). */
	const char *token;
	const char *token_file;
	const char *token_user;
	/* SSH: private key (its public half is derived) and the known_hosts file every
	 * host key is verified against; an unknown or mismatching host is refused. Without
	 * known_hosts_file, ~/.ssh/known_hosts is used. Never skipped. */
	const char *ssh_key_file;
	const char *known_hosts_file;
	/* --ignore-submodules: gitlinks become empty directories */
	int ignore_submodules;
};

#define GITSRC_OPTS_INIT { NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/* Commit metadata for the io.openshift.s2i.build.commit.* labels, in s2i's formats.
 * Strings are never NULL ("" when unknown, e.g. for GITSRC_PLAIN) and stay valid
 * until gitsrc_free or the next gitsrc_resolve. */
struct gitsrc_info {
	const char *id;		/* 40 hex */
	const char *ref;	/* branch or tag short name ("main", "v1.0"); "HEAD" if detached or a sha */
	const char *author;	/* "Name <email>" */
	const char *date;	/* git's default %ad: "Thu Nov 26 15:45:33 2026 +0100" */
	const char *message;	/* subject, cut to 80 columns with ".." like s2i's %<(80,trunc)%s */
	const char *location;	/* the URL; for local repositories remote.origin.url, else the path */
	int64_t time;		/* commit time, seconds since the epoch (0 for GITSRC_PLAIN) */
	int tz_minutes;		/* commit time zone offset */
};

/* What the last gitsrc_resolve transferred (zeros when nothing was fetched). */
struct gitsrc_fetch_stats {
	unsigned fetches;		/* fetch operations (top repository and submodules) */
	unsigned objects;		/* objects received */
	uint64_t bytes;			/* bytes received */
	double seconds;			/* wall time spent fetching */
};

struct gitsrc;

/* A bare mirror repacked (gitsrc_gc.c): git gc --prune=now's effect with libgit2. */
struct gitsrc_gc_stats {
	unsigned packs;			/* pack files before */
	unsigned loose;			/* loose objects before */
	uint64_t bytes_before;		/* bytes of both */
	uint64_t bytes_after;		/* of the one pack written */
	unsigned refs;			/* refs deleted first (gitsrc_gc_refs) */
};

/* Under the mirror's lock (no fetch meanwhile): one new pack of every object its refs
 * reach, then the other packs and every loose object deleted, so what no ref reaches
 * (a force-pushed branch's old commits, one a deleted ref held) goes. With
 * min_packs > 0 only when the mirror holds more than min_packs packs or GITSRC_GC_LOOSE
 * loose objects. 0 repacked (*ret filled), 1 nothing to do, -1 with e. */
int gitsrc_gc(const char *mirror, unsigned min_packs, struct gitsrc_gc_stats *ret, struct err *e);
/* The same after a push deleted refs: under the same lock, first deletes the mirror's
 * copies of refs (full names, those it holds) and its scratch refs of past fetches
 * (refs/s2i-agent/...), then repacks whatever the pack count. */
int gitsrc_gc_refs(const char *mirror, char *const *refs, size_t n, struct gitsrc_gc_stats *ret,
		   struct err *e);

/* Classifies source (see enum gitsrc_kind), opens the repository or creates/opens the
 * mirror. Does not touch the network. "-" or a path that does not exist is an error. */
int gitsrc_open(const char *source, const struct gitsrc_opts *o, struct gitsrc **ret, struct err *e);

/* Chooses the commit to build.
 *   ref: NULL/"" (work tree or bare: HEAD; URL: the remote's default branch), a branch
 *        or tag short name, a full refname (refs/heads/x, refs/tags/v1, refs/pull/1/head),
 *        or a sha (full, or abbreviated when the object is local).
 *   sha: NULL, or the exact 40-hex commit to build (the pushed one): it must be present
 *        after fetching ref, else it is fetched by id; ref then only names it in metadata.
 * Remote sources fetch only the wanted ref (+ the sha), with no tags, incrementally into
 * the mirror. Annotated tags are peeled to their commit. Unless ignore_submodules, every
 * submodule of the commit (recursively) is resolved: its URL from .gitmodules of that
 * commit (relative URLs against the parent's), its gitlink commit fetched into its own
 * mirror (a work tree's .git/modules/<name> is used when it has the commit).
 * For GITSRC_PLAIN this only checks the context dir. The context dir must exist. */
int gitsrc_resolve(struct gitsrc *s, const char *ref, const char *sha, struct err *e);

enum gitsrc_kind gitsrc_kind(const struct gitsrc *s);
/* 1 when the build has commit metadata (every kind but GITSRC_PLAIN) */
int gitsrc_is_git(const struct gitsrc *s);
const struct gitsrc_info *gitsrc_info(const struct gitsrc *s);
const struct gitsrc_fetch_stats *gitsrc_fetch_stats(const struct gitsrc *s);
/* The directory on disk: the plain directory / work tree top, or the bare repository
 * (mirror) path. The context dir is not appended. */
const char *gitsrc_path(const struct gitsrc *s);
/* The context dir as given ("" for none), normalised without leading/trailing '/'. */
const char *gitsrc_context_dir(const struct gitsrc *s);

/* One entry of the resolved tree, below the context dir, parents before children. */
struct gitsrc_entry {
	const char *path;	/* "dir/file", relative to the context dir, no leading '/' */
	unsigned mode;		/* S_IFDIR|0755, S_IFREG|0755 or 0644, S_IFLNK|0777 */
	uint64_t size;		/* regular files: content size; links: target length */
	const char *link;	/* S_IFLNK: the target; else NULL */
	const void *priv;	/* for gitsrc_entry_read */
};

/* Called for each entry: return 0 to continue, 1 to skip a directory's contents (the
 * directory entry itself was already seen), -1 to stop (fill e). */
typedef int (*gitsrc_walk_fn)(void *ctx, const struct gitsrc_entry *ent, struct err *e);
/* Walks the resolved commit's tree (submodules inlined at their paths; ignored or
 * unresolved gitlinks give an empty directory). Not for GITSRC_PLAIN (the caller walks
 * the directory; srctar does). Requires gitsrc_resolve. */
int gitsrc_walk(struct gitsrc *s, gitsrc_walk_fn fn, void *ctx, struct err *e);

/* Inside a walk callback: streams the content of a regular-file entry to sink in chunks:
 * loose objects through libgit2's read stream, large undeltified packed blobs inflated
 * from the pack file directly, other packed blobs (small or deltified) one at a time in
 * memory.
 * Exactly ent->size bytes are delivered, else -1. sink returns 0 or -1 (it fills e). */
typedef int (*gitsrc_sink_fn)(void *ctx, const void *p, size_t n, struct err *e);
int gitsrc_entry_read(struct gitsrc *s, const struct gitsrc_entry *ent, gitsrc_sink_fn sink,
		      void *ctx, struct err *e);

/* Reads one file of the source, relative to the context dir (e.g. ".s2i/environment",
 * ".s2i/bin/assemble"), from the resolved tree (or from disk for GITSRC_PLAIN), at most
 * max bytes (larger is an error). Returns 0 and appends to out (sets *ret_mode to
 * 0755/0644 if not NULL), 1 when it does not exist (or is not a regular file), -1 on error. */
int gitsrc_read_file(struct gitsrc *s, const char *path, size_t max, struct buf *out,
		     unsigned *ret_mode, struct err *e);

/* Closes everything and removes a temporary clone. NULL is a no-op. */
/* `git ls-remote` with the source's credentials: connects, counts the advertised refs
 * into *ret_nrefs, fetches nothing (s2i-agent check --online). A local repository
 * counts its own refs. */
int gitsrc_probe(struct gitsrc *s, size_t *ret_nrefs, struct err *e);
void gitsrc_free(struct gitsrc *s);

/* 1 when source is a URL for a remote (https, http, ssh, git, file, user@host:path). */
int gitsrc_is_url(const char *source);

#endif
