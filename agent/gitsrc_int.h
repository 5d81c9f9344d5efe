/* gitsrc_int: what the gitsrc*.c files share and nobody else sees: struct gitsrc and the
 * functions one part of gitsrc calls in another. Include only from agent/gitsrc*.c.
 * Calls go one way: gitsrc.c calls the parts, a part calls parts below it (sub ->
 * fetch -> auth, tree -> sub, pack), and every part may call gitsrc_util.c. */
#ifndef S2I_GITSRC_INT_H
#define S2I_GITSRC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "err.h"
#include "gitsrc.h"

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

/* gitsrc.c: the mirror's lock (MIRROR.lock, flock): fetches, and repacks, one at a time. */
int gitsrc_lock(const char *mirror, int *ret_fd, struct err *e);

/* Callback payload for one connection. */
struct gitsrc_conn {
	struct gitsrc *s;
	const char *url;
	char host[256];
	int port;
	int tries;
	int key_offered;	/* ssh_key_file went to the SSH layer */
	size_t bytes;		/* received in the current download */
	int cert_failed;
	struct err cert_err;
};

/* What gitsrc_walk passes as gitsrc_entry.priv */
struct gitsrc_blob {
	git_repository *repo;
	git_oid oid;
};

/* Where a path of the resolved source lives: the repository and tree entry. */
struct gitsrc_loc {
	git_repository *repo;
	git_tree *tree;		/* set when the path is a directory (owned) */
	git_tree_entry *te;	/* set when it is not (owned); both NULL for the root */
};

/* gitsrc_util.c: used by every part; calls none of them */
/* e gets what (fmt with a and b, "" for a NULL b) and libgit2's last error. -1. */
int gitsrc_git_err(struct err *e, const char *fmt, const char *a, const char *b);
/* 1 for file:// and local paths (fetched with gitsrc_fetch_local); gitsrc_is_url, its
 * contrary for the rest, is in gitsrc.h. */
int gitsrc_is_local(const char *url);
/* Length of s when it is all hex digits, else 0. */
int gitsrc_hexlen(const char *s);
int gitsrc_has_commit(git_repository *repo, const git_oid *oid);

/* gitsrc_auth.c: c is the payload of both callbacks for one connection to url */
void gitsrc_conn_init(struct gitsrc_conn *c, struct gitsrc *s, const char *url);
int gitsrc_cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload);
int gitsrc_cert_cb(git_cert *cert, int valid, const char *host, void *payload);
/* e says why "cannot WHAT 'url'": the host key check's reason, else libgit2's. -1. */
int gitsrc_fail_net(struct gitsrc_conn *c, struct err *e, const char *what, const char *url);
/* The git token file's first line (a secret: refused when readable by others). */
int gitsrc_read_token(const char *file, char **ret, struct err *e);

/* gitsrc_fetch.c */
/* Opens the bare mirror dir, creating it on first use. */
int gitsrc_mirror_open(const char *dir, git_repository **ret, struct err *e);
int gitsrc_connect(struct gitsrc *s, git_repository *repo, const char *url,
		   struct gitsrc_conn *c, git_remote **ret, struct err *e);
int gitsrc_download(struct gitsrc *s, git_repository *repo, git_remote *remote,
		    struct gitsrc_conn *c, const char *const *specs, size_t nspecs, struct err *e);
/* Brings ref (and want, when not NULL) from url into repo; *ret_local is the local
 * ref that names what was fetched (caller frees). */
int gitsrc_fetch(struct gitsrc *s, git_repository *repo, const char *url, const char *ref,
		 const git_oid *want, char **ret_local, struct err *e);
int gitsrc_fetch_local(struct gitsrc *s, git_repository *repo, const char *url, const char *ref,
		       const git_oid *want, char **ret_local, struct err *e);

/* gitsrc_sub.c */
/* Adds the submodules of tree (at prefix, its repository's url parent_url) to s->subs. */
int gitsrc_subs_resolve(struct gitsrc *s, git_repository *repo, git_tree *tree,
			const char *prefix, const char *parent_url, int depth, struct err *e);
void gitsrc_subs_free(struct gitsrc *s);
/* The submodule at full (a path from the top repository's root), NULL if none. */
struct gitsrc_sub *gitsrc_sub_find(struct gitsrc *s, const char *full);

/* gitsrc_tree.c */
int gitsrc_locate(struct gitsrc *s, const char *path, struct gitsrc_loc *l, struct err *e);
void gitsrc_loc_release(struct gitsrc_loc *l);

/* gitsrc_pack.c: 0 streamed, 1 not applicable (not packed here, deltified), -1 error */
int gitsrc_pack_stream(git_repository *repo, const git_oid *oid, uint64_t size, const char *name,
		       gitsrc_sink_fn sink, void *ctx, struct err *e);

#endif
