/* sshkey: which kind of SSH private key a file holds (its type name and whether it is
 * encrypted), read from the file's headers only, and whether this build's SSH layer can use it. */
#ifndef S2I_SSHKEY_H
#define S2I_SSHKEY_H

#include <stddef.h>

#include "err.h"

enum sshkey_format {
	SSHKEY_UNKNOWN,		/* none of the below */
	SSHKEY_OPENSSH,		/* -----BEGIN OPENSSH PRIVATE KEY----- (openssh-key-v1) */
	SSHKEY_PEM,		/* -----BEGIN RSA/DSA/EC PRIVATE KEY----- */
	SSHKEY_PKCS8,		/* -----BEGIN [ENCRYPTED] PRIVATE KEY----- */
	SSHKEY_PUBLIC,		/* a public key line ("ssh-ed25519 AAAA... comment") */
	SSHKEY_PUTTY,		/* PuTTY-User-Key-File-N: */
};

struct sshkey_info {
	enum sshkey_format format;
	/* the SSH name of the key type ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
	 * "ssh-dss", "sk-ssh-ed25519@openssh.com", ...); "ecdsa" for an EC key on another
	 * curve; "" when the file does not say (an encrypted PKCS#8 key, an unknown file) */
	char type[64];
	int encrypted;
};

/* Reads what data (len bytes, a key file's contents) is: 0 with *ret filled, even for an
 * SSHKEY_UNKNOWN file; -1 only for a damaged key (a known header around a body that does
 * not decode). No key material is kept or copied into e. */
int sshkey_probe_buf(const char *data, size_t len, struct sshkey_info *ret, struct err *e);
/* The same for a file (at most SSHKEY_FILE_MAX bytes); -1 when it cannot be read. The
 * bytes read are wiped before it returns. */
int sshkey_probe(const char *path, struct sshkey_info *ret, struct err *e);

enum sshkey_verdict {
	SSHKEY_OK,		/* nothing to say */
	SSHKEY_WARN,		/* works only with some servers (RSA: SHA-1 signatures), or unknown */
	SSHKEY_UNUSABLE,	/* can never work here (encrypted, a public key, FIDO, PuTTY) */
};

/* What the agent can do with a key read from path ("ssh_key_file 'PATH' ..."): SSHKEY_OK
 * leaves msg empty; otherwise msg (msgsz bytes) says why and what to do. */
enum sshkey_verdict sshkey_judge(const struct sshkey_info *k, const char *path, char *msg, size_t msgsz);

/* sshkey_probe then sshkey_judge; a file that cannot be read is SSHKEY_WARN (the check may
 * run as another user than the agent). */
enum sshkey_verdict sshkey_check(const char *path, char *msg, size_t msgsz);

#endif
