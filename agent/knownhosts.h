/* knownhosts: verification of an SSH host key against an OpenSSH known_hosts file
 * (plain, comma lists, [host]:port, hashed |1| entries, wildcards, @revoked). */
#ifndef S2I_KNOWNHOSTS_H
#define S2I_KNOWNHOSTS_H

#include <stddef.h>

#include "err.h"

/* The host key as the SSH layer gives it: the raw public key blob (wire format, what
 * known_hosts stores in base64) when known, and/or its SHA-256. */
struct knownhosts_key {
	const unsigned char *raw;	/* NULL when only the hash is known */
	size_t raw_len;
	const unsigned char *sha256;	/* 32 bytes, or NULL */
};

/* 0 when file has a line for host (port 22: "host", else "[host]:port") whose key equals
 * key and no @revoked line for that key; -1 otherwise with a message saying whether the
 * host is unknown, its key differs, or the key is revoked. */
int knownhosts_check(const char *file, const char *host, int port, const struct knownhosts_key *key,
		     struct err *e);

#endif
