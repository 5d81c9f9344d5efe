/* s2iparse: the small text formats of an S2I build, parsed without I/O so they can be
 * unit-tested: environment files, uid ranges, image_metadata.json, passwd, mappings. */
#ifndef S2I_S2IPARSE_H
#define S2I_S2IPARSE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Environment files, as s2i reads them: NAME=VALUE lines, split at the first '=', name and
 * value trimmed of blanks, lines without '=' or with an empty name skipped. The source's
 * `.s2i/environment` (S2IPARSE_ENV_SOURCE) keeps every line in order and skips lines
 * starting with '#'; a -E file (S2IPARSE_ENV_FILE) is trimmed first, skips '#' and '//'
 * comments and keeps one entry per name, the last value (s2i reads it into a map).
 * Appends "NAME=VALUE" to out. */
enum s2iparse_env_kind { S2IPARSE_ENV_SOURCE, S2IPARSE_ENV_FILE };
/* A build secret's NAME (--build-secret, build_secret_file): letters, digits, '.', '_'
 * and '-', not starting with '.', at most S2I_SECRET_NAME_MAX characters. */
int s2iparse_secret_name_ok(const char *v, size_t n);
void s2iparse_env(const char *data, size_t len, enum s2iparse_env_kind kind, struct strv *out);

/* Is "NAME=VALUE" with a non-empty NAME (for -e)? */
int s2iparse_env_check(const char *kv, struct err *e);

/* --allowed-uids: comma separated "N", "N-M", "N-" (no upper bound) or "-M" (from 0). */
struct s2iparse_uidrange {
	unsigned long from, to;		/* inclusive */
};

int s2iparse_uids(const char *spec, struct s2iparse_uidrange **ret, size_t *ret_n, struct err *e);

/* The user of an image or --assemble-user ("uid", "uid:gid", "name", "name:group", ""
 * for root) checked against ranges: 0 if allowed, else -1 naming why (a name, or a
 * uid out of range). what names the user in the message ("image 'x' user"). */
int s2iparse_user_allowed(const struct s2iparse_uidrange *r, size_t n, const char *user,
			  const char *what, struct err *e);

/* <dest>/.s2i/image_metadata.json: {"labels": [{"k": "v"}, ...]}. Appends "k=v" to
 * out; later keys win when the caller merges. */
int s2iparse_metadata_labels(const char *json, size_t len, struct strv *out, struct err *e);

/* Splits "SRC:DST" (-i, -a, -v) at the last ':'; both parts non-empty. A bare "SRC"
 * gives DST "." (s2i: the image's working directory). */
int s2iparse_mapping(const char *s, char **ret_src, char **ret_dst, struct err *e);

/* The io.openshift.s2i.assemble-input-files label: "src:dst;src2:dst2". Appends each
 * mapping to out. */
int s2iparse_input_files(const char *label, struct strv *out, struct err *e);

/* Runtime artifact mapping rules of s2i: source absolute, destination relative and
 * not starting with "..". */
int s2iparse_runtime_artifact_check(const char *src, const char *dst, struct err *e);

/* A user "name[:group]" or "uid[:gid]" resolved with the image's /etc/passwd and
 * /etc/group contents (either may be NULL when absent). Numeric parts need no
 * lookup; a user without a group gets its passwd gid (0 when numeric and unknown). */
int s2iparse_user_ids(const char *user, const char *passwd, const char *group, long *ret_uid,
		      long *ret_gid, struct err *e);

/* Scripts URL schemes. */
enum s2iparse_url_kind { S2IPARSE_URL_IMAGE, S2IPARSE_URL_FILE, S2IPARSE_URL_HTTP };

/* image://PATH and file://PATH give PATH (absolute), http(s):// gives the URL itself
 * without trailing '/'. A bare absolute path counts as file://. */
int s2iparse_scripts_url(const char *url, enum s2iparse_url_kind *ret_kind, char **ret_where,
			 struct err *e);

/* The builder image as s2i names it in the io.openshift.s2i.build.image label: the
 * normalized Docker reference ("python:3.12" → "docker.io/library/python:3.12", no tag →
 * ":latest"). A reference that does not parse as a Docker reference (an image id,
 * upper case, a tag together with a digest) is returned as given. Returns a new string. */
char *s2iparse_image_name(const char *ref);

#endif
