/* instance: the id of one agent (one state_dir), the value of the io.s2i-agent.owner
 * label on its build containers (see s2i.h). Lean: the daemon links it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "instance.h"
#include "limits.h"
#include "buf.h"

static int instance_valid(const char *s, size_t len)
{
	return len == 32 && str_is_hex(s, len);
}

static int instance_read(const char *path, char *out, size_t n, struct err *e)
{
	char buf[INSTANCE_ID_MAX + 8];
	ssize_t got;
	size_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_errno(e, "cannot open '%s'", path);
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got < 0)
		return err_errno(e, "cannot read '%s'", path);
	len = (size_t)got;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (!instance_valid(buf, len) || n <= len)
		return err_set(e, "'%s' does not hold an instance id (32 hex digits)", path);
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

int instance_id(const char *state_dir, char *out, size_t n, struct err *e)
{
	char *path = xasprintf("%s/%s", state_dir, S2I_INSTANCE_ID_FILE);
	char *tmp = NULL;
	unsigned char raw[16];
	char hex[40];
	size_t i;
	int fd = -1, rc = -1;

	if (access(path, F_OK) == 0) {
		rc = instance_read(path, out, n, e);
		goto out;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		err_errno(e, "cannot get random bytes for an instance id");
		goto out;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * sizeof(raw)] = '\n';
	tmp = xasprintf("%s/.instance-id.XXXXXX", state_dir);
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0) {
		err_errno(e, "cannot create a file in '%s'", state_dir);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (write(fd, hex, 2 * sizeof(raw) + 1) != (ssize_t)(2 * sizeof(raw) + 1) || fsync(fd) < 0) {
		err_errno(e, "cannot write '%s'", tmp);
		goto out;
	}
	/* link() never replaces: whoever links first wins, the others read its value */
	if (link(tmp, path) < 0 && errno != EEXIST) {
		err_errno(e, "cannot create '%s'", path);
		goto out;
	}
	rc = instance_read(path, out, n, e);
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(path);
	return rc;
}
