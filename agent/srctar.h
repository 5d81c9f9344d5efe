/* srctar: the tar stream the engine receives (source, scripts, injections), written by
 * libarchive straight from a git tree or a directory to a caller's sink, never staged. */
#ifndef S2I_SRCTAR_H
#define S2I_SRCTAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"
#include "gitsrc.h"

/* s2i's default --exclude: nothing under a .git directory */
#define SRCTAR_DEFAULT_EXCLUDE	"(^|/)\\.git(/|$)"

/* Receives the bytes of the tar in order: return 0, or -1 with errno set (the error
 * then becomes "cannot write the tar: <strerror>"). */
typedef int (*srctar_write_fn)(void *ctx, const void *p, size_t n);

struct srctar_opts {
	uid_t uid;		/* owner of every entry (numeric: the assemble user) */
	gid_t gid;
	int64_t mtime;		/* entries without a time of their own (added files, git
				 * trees use the commit time); 0: now */
	/* for s2i's injections: entries read from disk keep the file's uid/gid, get these
	 * permission bits (0: their own), and the directory a prefix names is not added
	 * (the engine makes a missing one); empty_files adds regular files from disk with
	 * no content (s2i empties injected files after assemble) */
	int disk_owner;
	unsigned file_mode;
	unsigned dir_mode;
	int no_prefix_dirs;
	int empty_files;
};

#define SRCTAR_OPTS_INIT { 0, 0, 0, 0, 0, 0, 0, 0 }

struct srctar;

/* A pax (restricted: plain ustar headers unless a name or size needs more) tar written
 * to fn in blocks of 10240 bytes; memory stays small and constant. */
int srctar_new(srctar_write_fn fn, void *ctx, const struct srctar_opts *o, struct srctar **ret,
	       struct err *e);

/*
 * Adders. prefix is a directory inside the tar ("src", "scripts", "" for the top); it
 * and its parents are added as directories once (mode 0755). Names never start with
 * '/' and never contain "..". exclude: POSIX extended regexes matched against the
 * path relative to what is added (before prefix); NULL means SRCTAR_DEFAULT_EXCLUDE, an
 * empty strv means none. A directory named ".git" is never added whatever exclude says.
 */

/* The source: its resolved git tree (modes, links, submodules inlined, commit time as
 * mtime) or, for GITSRC_PLAIN, its directory on disk; the context dir applied. */
int srctar_add_source(struct srctar *t, const char *prefix, struct gitsrc *src,
		      const struct strv *exclude, struct err *e);

/* A directory on disk, recursively: regular files streamed in chunks, symlinks stored
 * as links (never followed), directories, nothing else (sockets, fifos, devices are
 * skipped); mode bits kept (0755 if any x bit else 0644 for files), file mtimes kept.
 * Nothing outside dir is read. */
int srctar_add_dir(struct srctar *t, const char *prefix, const char *dir,
		   const struct strv *exclude, struct err *e);

/* One file from memory: name is relative to the tar top ("scripts/assemble"); its parent
 * directories are added when missing. mode: permission bits (e.g. 0755). */
int srctar_add_file(struct srctar *t, const char *name, unsigned mode, const void *data,
		    size_t len, struct err *e);

/* One regular file from disk (streamed), stored as name with mode (0: the file's own
 * permission bits). A symlink at path is refused. */
int srctar_add_path(struct srctar *t, const char *name, const char *path, unsigned mode,
		    struct err *e);

/* The reader of srctar_add_tar: bytes into buf, 0 at the end, -1 with e set (the
 * shape of tarx_read_fn and engine_read_fn). */
typedef ssize_t (*srctar_read_fn)(void *arg, void *buf, size_t len, struct err *e);
/* Every entry of the tar rd reads, as it is (names, owners, modes, links: a tar already
 * checked, e.g. tarx_filter_read's), after what is in the tar so far. On -1,
 * *ret_read_failed tells a failed read (rd's error, or a tar libarchive cannot read)
 * from a failed write. */
int srctar_add_tar(struct srctar *t, srctar_read_fn rd, void *arg, int *ret_read_failed,
		   struct err *e);
/* An (empty) directory entry, with its parents. */
int srctar_add_dirent(struct srctar *t, const char *name, unsigned mode, struct err *e);

/* Writes the end of the archive and flushes. After an error no further adds work. */
int srctar_finish(struct srctar *t, struct err *e);

/* Bytes handed to the sink so far. */
uint64_t srctar_bytes(const struct srctar *t);

/* NULL is a no-op; an unfinished tar is abandoned (the sink got a truncated stream). */
void srctar_free(struct srctar *t);

/* Compiles exclude regexes (NULL: the default) to check them before a build starts. */
int srctar_check_exclude(const struct strv *exclude, struct err *e);

/*
 * Pull bridge for consumers that read (libcurl's CURLOPT_READFUNCTION, a socket
 * sendfile loop): libarchive pushes, so the tar is produced by a THREAD that runs fill()
 * and writes into one end of a socketpair; the caller reads the other end (*ret_fd,
 * O_CLOEXEC, blocking) until EOF. A thread rather than a child process because the writer
 * needs the caller's open gitsrc (libgit2 handles do not survive fork) and the bytes
 * are copied once; the writer uses send(MSG_NOSIGNAL), so a reader that stops early
 * (closes its fd) makes the writer fail with EPIPE instead of killing the process.
 * fill() receives a new srctar (owned by the bridge: it is finished and freed for you)
 * and adds entries; it must not touch objects the caller uses meanwhile.
 */
typedef int (*srctar_fill_fn)(struct srctar *t, void *ctx, struct err *e);

struct srctar_pipe;

/* *ret_fd belongs to the bridge: read it, never close it. */
int srctar_pipe_start(const struct srctar_opts *o, srctar_fill_fn fill, void *ctx,
		      int *ret_fd, struct srctar_pipe **ret, struct err *e);
/* Shuts the read end down (a writer still running fails with EPIPE, so stopping early
 * is fine), joins the writer, closes the fd and returns the writer's result: 0, or -1
 * with its message in e (a reader that stopped early gets that EPIPE message). Frees p;
 * NULL is a no-op returning 0. */
int srctar_pipe_finish(struct srctar_pipe *p, struct err *e);

#endif
