/* tarx: defensive handling of tars that come back from containers (artifacts,
 * runtime artifacts, metadata) — extract, filter to a clean tar, read one file. */
#ifndef S2I_TARX_H
#define S2I_TARX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 * Every entry is checked before anything is written:
 * - no absolute name, no ".." component, no empty name after normalisation
 *   ("./a//b" → "a/b"; "." itself is skipped);
 * - symlinks: the target, resolved against the link's own directory, must stay
 *   inside the destination (absolute targets are refused);
 * - hardlinks: the target is an entry name and follows the same rules as names;
 * - only regular files, directories, symlinks and hardlinks: device nodes,
 *   fifos and sockets are refused;
 * - per-entry size, total size and entry count are bounded (tarx_opts, default
 *   TAR_ENTRY_MAX, TAR_TOTAL_MAX, TAR_ENTRIES_MAX from limits.h).
 * A refused entry fails the whole operation with a message naming it, e.g.
 * "tar entry '../etc/passwd': path leaves the destination".
 * Extraction never follows a symlink that is already on disk: each path is
 * walked component by component with openat(O_NOFOLLOW), so a link created by
 * an earlier entry cannot redirect a later one.
 */

/* Same shapes as engine_read_fn / engine_write_fn (engine.h), so an engine
 * stream can feed tarx and a tarx filter can feed an archive upload. */
typedef ssize_t (*tarx_read_fn)(void *arg, void *buf, size_t len, struct err *e);
typedef int (*tarx_write_fn)(void *arg, const void *data, size_t len, struct err *e);

struct tarx_opts {
	uint64_t entry_max;	/* 0: TAR_ENTRY_MAX */
	uint64_t total_max;	/* 0: TAR_TOTAL_MAX (sum of file sizes) */
	uint64_t entries_max;	/* 0: TAR_ENTRIES_MAX */
	/* Renaming, applied to names and hardlink targets before the checks:
	 * first strip_components leading components (entries with no more are
	 * skipped), then a leading component equal to rename_from becomes rename_to
	 * (rename_to "" drops it), then prefix (e.g. "artifacts") is prepended. */
	int strip_components;
	const char *rename_from;
	const char *rename_to;
	const char *prefix;
	/* Extraction: files get the tar's permission bits (masked with 01777:
	 * never setuid/setgid; directories always keep u+rwx) unless drop_modes
	 * (then 0644/0755); owners are never applied on disk.
	 * Filter: with set_owner, written entries get uid/gid (and no user/group
	 * names) instead of the tar's. All-zero options are the defaults. */
	int drop_modes;
	int set_owner;
	long uid, gid;
};

#define TARX_OPTS_INIT { 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, 0 }

/* What an operation saw, for logs and tests (may be NULL where accepted). */
struct tarx_stats {
	uint64_t entries;
	uint64_t bytes;		/* file data */
};

/* Extracts the tar read from rd into dir (must exist). o may be NULL. */
int tarx_extract(tarx_read_fn rd, void *arg, const char *dir, const struct tarx_opts *o,
		 struct tarx_stats *ret_stats, struct err *e);
/* Same, reading from an fd (not closed). */
int tarx_extract_fd(int fd, const char *dir, const struct tarx_opts *o, struct tarx_stats *ret_stats,
		    struct err *e);

/* Reads a tar from rd, checks and renames every entry as above, and writes a
 * clean ustar/pax tar to wr — no disk involved. */
int tarx_filter(tarx_read_fn rd, void *rarg, tarx_write_fn wr, void *warg, const struct tarx_opts *o,
		struct tarx_stats *ret_stats, struct err *e);

/* The same filter in pull style, for an upload that reads its body:
 *   tarx_filter_open(engine_stream_read, src, &o, &f, e);
 *   engine_archive_put(eng, id, dir, tarx_filter_read, f, e);
 * o is copied (its strings must outlive f). */
struct tarx_filter;
int tarx_filter_open(tarx_read_fn rd, void *arg, const struct tarx_opts *o, struct tarx_filter **ret,
		     struct err *e);
/* tarx_read_fn shape: bytes of the clean tar, 0 at its end, -1 on a refused
 * entry or a read failure (the message names the entry). */
ssize_t tarx_filter_read(void *f, void *buf, size_t len, struct err *e);
/* Counts so far. */
void tarx_filter_stats(const struct tarx_filter *f, struct tarx_stats *ret);
void tarx_filter_free(struct tarx_filter *f);

/* Looks for the regular file `name` (normalised, e.g. "image_metadata.json" or
 * "tmp/.s2i/image_metadata.json") in the tar read from rd and reads it into
 * out (its cap applies too; at most max bytes, else -1). The rest of the tar is
 * still checked and drained. *ret_found is 1 if found, 0 if the tar has no
 * such entry (then 0 is returned and out is empty). */
int tarx_read_file(tarx_read_fn rd, void *arg, const char *name, size_t max, struct buf *out,
		   int *ret_found, struct err *e);

/* Pure check of one entry name (after renaming): writes the normalised name
 * into out (size n) and returns 0, or -1 with the reason. Exposed for tests. */
int tarx_check_name(const char *name, char *out, size_t n, struct err *e);
/* Pure check of a symlink target for a link at normalised path `link`. */
int tarx_check_symlink(const char *link, const char *target, struct err *e);

#endif
