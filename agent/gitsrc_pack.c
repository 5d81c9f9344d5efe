/* gitsrc_pack: large blobs inflated in chunks straight from their pack file, so a big
 * file costs GITSRC_CHUNK of memory instead of its size. */

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <zlib.h>

#include "gitsrc_int.h"
#include "limits.h"

/* libgit2 1.5 streams loose objects only; a packed blob is inflated whole into memory.
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
int gitsrc_pack_stream(git_repository *repo, const git_oid *oid, uint64_t size, const char *name,
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
