/* Fuzz target: defensive tar handling of container output — extraction into a
 * scratch directory, the streaming filter, and the single-file reader.
 * Afterwards nothing may exist outside the scratch directory. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "tarx.h"

struct mem {
	const uint8_t *p;
	size_t len, off, chunk;
};

static ssize_t mem_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct mem *m = arg;
	size_t n = m->len - m->off;

	(void)e;
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int null_write(void *arg, const void *data, size_t len, struct err *e)
{
	(void)arg; (void)data; (void)len; (void)e;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char base[64];
	char dir[128];
	struct tarx_opts o = TARX_OPTS_INIT;
	struct buf out = BUF_INIT(4096);
	struct err e = ERR_INIT;
	struct mem m = { data, size, 0, 0 };
	int found;

	if (!base[0]) {
		snprintf(base, sizeof(base), "/tmp/fuzz-tarx-%d", (int)getpid());
		mkdir(base, 0700);
	}
	snprintf(dir, sizeof(dir), "%s/out", base);
	mkdir(dir, 0700);
	o.entry_max = 1 << 20;
	o.total_max = 4 << 20;
	o.entries_max = 2000;
	m.chunk = size ? (data[0] % 7) * 100 : 0;	/* vary the read sizes */
	(void)tarx_extract(mem_read, &m, dir, &o, NULL, &e);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(base, 0700);

	m.off = 0;
	o.prefix = "artifacts";
	o.strip_components = 1;
	(void)tarx_filter(mem_read, &m, null_write, NULL, &o, NULL, &e);

	m.off = 0;
	(void)tarx_read_file(mem_read, &m, "tmp/.s2i/image_metadata.json", 4096, &out, &found, &e);
	buf_release(&out);
	return 0;
}
