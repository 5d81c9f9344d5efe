/* sshkey: tells an SSH private key's type from its headers (the openssh-key-v1 header, the
 * PEM label, the PKCS#8 algorithm) so a key the SSH layer cannot use is named before a fetch
 * fails on it. No OpenSSL: config validation runs in the lean daemon too. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Only for LIBSSH2_VERSION_NUM: which libssh2 libgit2 was built against (nothing is linked). */
#if defined(__has_include)
#if __has_include(<libssh2.h>)
#include <libssh2.h>
#endif
#endif

#include "buf.h"
#include "codec.h"
#include "limits.h"
#include "sshkey.h"

/* libssh2 1.11 signs with RSA keys as rsa-sha2-256/512 and knows FIDO (sk-) keys; before
 * it, an RSA signature is ssh-rsa (SHA-1), which OpenSSH 8.8+ and GitHub refuse. */
#if defined(LIBSSH2_VERSION_NUM) && LIBSSH2_VERSION_NUM >= 0x010b00
#define SSHKEY_RSA_SHA2	1
#define SSHKEY_SK	1
#else
#define SSHKEY_RSA_SHA2	0
#define SSHKEY_SK	0
#endif

/* --- small readers over a byte range ------------------------------------ */

struct sshkey_rd {
	const unsigned char *p, *end;
};

/* The next n bytes of r as ret, or -1 when fewer are left. */
static int sshkey_rd_take(struct sshkey_rd *r, size_t n, struct sshkey_rd *ret)
{
	if ((size_t)(r->end - r->p) < n)
		return -1;
	ret->p = r->p;
	ret->end = r->p + n;
	r->p += n;
	return 0;
}

/* An SSH wire string (uint32 length, bytes). */
static int sshkey_rd_str(struct sshkey_rd *r, struct sshkey_rd *ret)
{
	uint32_t n;

	if (r->end - r->p < 4)
		return -1;
	n = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return sshkey_rd_take(r, n, ret);
}

/* One DER element with tag tag: ret covers its contents. */
static int sshkey_der(struct sshkey_rd *r, unsigned tag, struct sshkey_rd *ret)
{
	size_t n = 0, i, nb;

	if (r->end - r->p < 2 || r->p[0] != tag)
		return -1;
	n = r->p[1];
	r->p += 2;
	if (n & 0x80) {
		nb = n & 0x7f;
		if (nb < 1 || nb > 3 || (size_t)(r->end - r->p) < nb)
			return -1;
		for (n = 0, i = 0; i < nb; i++)
			n = n << 8 | *r->p++;
	}
	return sshkey_rd_take(r, n, ret);
}

static int sshkey_rd_is(const struct sshkey_rd *r, const void *bytes, size_t n)
{
	return (size_t)(r->end - r->p) == n && !memcmp(r->p, bytes, n);
}

/* --- what the bodies say ------------------------------------------------- */

static const struct {
	const unsigned char oid[9];
	size_t len;
	const char *name;
} sshkey_curves[] = {
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 8, "ecdsa-sha2-nistp256" },	/* prime256v1 */
	{ { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 5, "ecdsa-sha2-nistp384" },	/* secp384r1 */
	{ { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 5, "ecdsa-sha2-nistp521" },	/* secp521r1 */
};

static const char *sshkey_curve(const struct sshkey_rd *oid)
{
	size_t i;

	for (i = 0; i < sizeof(sshkey_curves) / sizeof(sshkey_curves[0]); i++)
		if (sshkey_rd_is(oid, sshkey_curves[i].oid, sshkey_curves[i].len))
			return sshkey_curves[i].name;
	return "ecdsa";
}

static void sshkey_set_type(struct sshkey_info *k, const unsigned char *s, size_t n)
{
	size_t i;

	if (n >= sizeof(k->type))
		n = sizeof(k->type) - 1;
	for (i = 0; i < n; i++)	/* a type name is printable ASCII; anything else shows as '?' */
		k->type[i] = s[i] > 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	k->type[n] = '\0';
}

/* openssh-key-v1: magic, cipher, kdf, kdf options, key count, then the first public key in
 * clear (even when the private part is encrypted), whose first string is the type. */
static int sshkey_openssh(const unsigned char *d, size_t n, struct sshkey_info *k, struct err *e)
{
	static const char magic[] = "openssh-key-v1";	/* with its NUL */
	struct sshkey_rd r = { d, d + n }, cipher, kdf, kdfopt, pub, type;

	if (n < sizeof(magic) || memcmp(d, magic, sizeof(magic)))
		return err_set(e, "no openssh-key-v1 header");
	r.p += sizeof(magic);
	if (sshkey_rd_str(&r, &cipher) < 0 || sshkey_rd_str(&r, &kdf) < 0 ||
	    sshkey_rd_str(&r, &kdfopt) < 0 || r.end - r.p < 4)
		return err_set(e, "truncated openssh-key-v1 header");
	r.p += 4;	/* number of keys: the first one is what libssh2 uses */
	if (sshkey_rd_str(&r, &pub) < 0 || sshkey_rd_str(&pub, &type) < 0 || type.p == type.end)
		return err_set(e, "truncated openssh-key-v1 public key");
	k->encrypted = !sshkey_rd_is(&cipher, "none", 4);
	sshkey_set_type(k, type.p, (size_t)(type.end - type.p));
	return 0;
}

/* PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER version, SEQUENCE { OID algorithm, params }, ... } */
static int sshkey_pkcs8(const unsigned char *d, size_t n, struct sshkey_info *k, struct err *e)
{
	static const unsigned char rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	static const unsigned char ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
	static const unsigned char dsa[] = { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01 };
	static const unsigned char ed25519[] = { 0x2b, 0x65, 0x70 };
	struct sshkey_rd r = { d, d + n }, seq, ver, alg, oid, curve;

	if (sshkey_der(&r, 0x30, &seq) < 0 || sshkey_der(&seq, 0x02, &ver) < 0 ||
	    sshkey_der(&seq, 0x30, &alg) < 0 || sshkey_der(&alg, 0x06, &oid) < 0)
		return err_set(e, "not a PKCS#8 private key");
	if (sshkey_rd_is(&oid, rsa, sizeof(rsa)))
		snprintf(k->type, sizeof(k->type), "ssh-rsa");
	else if (sshkey_rd_is(&oid, dsa, sizeof(dsa)))
		snprintf(k->type, sizeof(k->type), "ssh-dss");
	else if (sshkey_rd_is(&oid, ed25519, sizeof(ed25519)))
		snprintf(k->type, sizeof(k->type), "ssh-ed25519");
	else if (sshkey_rd_is(&oid, ec, sizeof(ec)))
		snprintf(k->type, sizeof(k->type), "%s",
			 sshkey_der(&alg, 0x06, &curve) < 0 ? "ecdsa" : sshkey_curve(&curve));
	return 0;	/* another algorithm: type stays "" */
}

/* SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING key, [0] OID curve OPTIONAL, ... } */
static void sshkey_sec1(const unsigned char *d, size_t n, struct sshkey_info *k)
{
	struct sshkey_rd r = { d, d + n }, seq, x, params, curve;

	snprintf(k->type, sizeof(k->type), "ecdsa");
	if (sshkey_der(&r, 0x30, &seq) < 0 || sshkey_der(&seq, 0x02, &x) < 0 ||
	    sshkey_der(&seq, 0x04, &x) < 0 || sshkey_der(&seq, 0xa0, &params) < 0 ||
	    sshkey_der(&params, 0x06, &curve) < 0)
		return;
	snprintf(k->type, sizeof(k->type), "%s", sshkey_curve(&curve));
}

/* --- the text around them ------------------------------------------------ */

/* The line at *p (without its end of line); *p moves past it. */
static size_t sshkey_line(const char **p, const char *end, const char **ret)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

	*p = nl ? nl + 1 : end;
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*ret = s;
	return n;
}

static int sshkey_starts(const char *s, size_t n, const char *prefix)
{
	size_t pn = strlen(prefix);

	return n >= pn && !memcmp(s, prefix, pn);
}

/* "ssh-ed25519 AAAA...": a public key where a private one belongs */
static int sshkey_public_line(const char *s, size_t n, struct sshkey_info *k)
{
	size_t t = 0;

	while (t < n && s[t] != ' ' && s[t] != '\t')
		t++;
	if (!(sshkey_starts(s, t, "ssh-") || sshkey_starts(s, t, "ecdsa-") || sshkey_starts(s, t, "sk-")) ||
	    t + 1 + 4 > n || memcmp(s + t + 1, "AAAA", 4))
		return 0;
	k->format = SSHKEY_PUBLIC;
	sshkey_set_type(k, (const unsigned char *)s, t);
	return 1;
}

/* PuTTY-User-Key-File-3: ssh-ed25519 / Encryption: none */
static void sshkey_putty(const char *p, const char *end, struct sshkey_info *k)
{
	const char *s;
	size_t n = sshkey_line(&p, end, &s);
	const char *colon = memchr(s, ':', n);

	k->format = SSHKEY_PUTTY;
	if (colon) {
		colon++;
		while (colon < s + n && *colon == ' ')
			colon++;
		sshkey_set_type(k, (const unsigned char *)colon, (size_t)(s + n - colon));
	}
	while (p < end) {
		n = sshkey_line(&p, end, &s);
		if (sshkey_starts(s, n, "Encryption:")) {
			const char *v = s + 11;

			while (v < s + n && *v == ' ')
				v++;
			k->encrypted = !(s + n - v == 4 && !memcmp(v, "none", 4));
		}
	}
}

int sshkey_probe_buf(const char *data, size_t len, struct sshkey_info *ret, struct err *e)
{
	struct sshkey_info k;
	const char *p = data, *end = data + len, *s, *q, *label = NULL;
	char *b64 = NULL;
	unsigned char *der = NULL;
	size_t n, label_len = 0, nb = 0, nder = 0, cap;
	int found_end = 0, rc = -1;

	memset(&k, 0, sizeof(k));
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (sshkey_starts(p, (size_t)(end - p), "PuTTY-User-Key-File-")) {
		sshkey_putty(p, end, &k);
		goto done;
	}
	q = p;
	n = sshkey_line(&q, end, &s);
	if (sshkey_public_line(s, n, &k))
		goto done;
	/* the first -----BEGIN LABEL----- line: text before it (comments) is allowed */
	while (p < end) {
		n = sshkey_line(&p, end, &s);
		if (n > 16 && sshkey_starts(s, n, "-----BEGIN ") && !memcmp(s + n - 5, "-----", 5)) {
			label = s + 11;
			label_len = n - 16;
			break;
		}
	}
	if (!label)
		goto done;	/* SSHKEY_UNKNOWN */
	cap = (size_t)(end - p) + 1;
	b64 = xmalloc(cap);
	while (p < end) {
		n = sshkey_line(&p, end, &s);
		if (sshkey_starts(s, n, "-----END ")) {
			found_end = n == label_len + 14 && !memcmp(s + 9, label, label_len);
			break;
		}
		if (memchr(s, ':', n)) {	/* RFC 1421 headers of a legacy PEM key */
			if (sshkey_starts(s, n, "Proc-Type:") && memmem(s, n, "ENCRYPTED", 9))
				k.encrypted = 1;
			continue;
		}
		for (; n; s++, n--)
			if (*s != ' ' && *s != '\t')
				b64[nb++] = *s;
	}
	if (!found_end) {
		err_set(e, "no '-----END %.*s-----' line", (int)(label_len > 40 ? 40 : label_len), label);
		goto out;
	}
#define LABEL_IS(x) (label_len == sizeof(x) - 1 && !memcmp(label, x, sizeof(x) - 1))
	if (LABEL_IS("OPENSSH PRIVATE KEY") || LABEL_IS("PRIVATE KEY") ||
	    (LABEL_IS("EC PRIVATE KEY") && !k.encrypted)) {
		der = xmalloc(nb / 4 * 3 + 3);
		if (codec_base64_decode(b64, nb, der, nb / 4 * 3 + 3, &nder) < 0) {
			err_set(e, "the key's base64 does not decode");
			goto out;
		}
	}
	if (LABEL_IS("OPENSSH PRIVATE KEY")) {
		k.format = SSHKEY_OPENSSH;
		if (sshkey_openssh(der, nder, &k, e) < 0)
			goto out;
	} else if (LABEL_IS("PRIVATE KEY")) {
		k.format = SSHKEY_PKCS8;
		if (sshkey_pkcs8(der, nder, &k, e) < 0)
			goto out;
	} else if (LABEL_IS("ENCRYPTED PRIVATE KEY")) {
		k.format = SSHKEY_PKCS8;
		k.encrypted = 1;
	} else if (LABEL_IS("RSA PRIVATE KEY")) {
		k.format = SSHKEY_PEM;
		snprintf(k.type, sizeof(k.type), "ssh-rsa");
	} else if (LABEL_IS("DSA PRIVATE KEY")) {
		k.format = SSHKEY_PEM;
		snprintf(k.type, sizeof(k.type), "ssh-dss");
	} else if (LABEL_IS("EC PRIVATE KEY")) {
		k.format = SSHKEY_PEM;
		if (k.encrypted)
			snprintf(k.type, sizeof(k.type), "ecdsa");
		else
			sshkey_sec1(der, nder, &k);
	} else {
		k.encrypted = 0;	/* another PEM object (a certificate, a public key) */
	}
#undef LABEL_IS
done:
	*ret = k;
	rc = 0;
out:
	if (b64) {
		explicit_bzero(b64, cap);
		free(b64);
	}
	if (der) {
		explicit_bzero(der, nb / 4 * 3 + 3);
		free(der);
	}
	return rc;
}

int sshkey_probe(const char *path, struct sshkey_info *ret, struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	ssize_t got;
	int fd, rc = -1;

	fd = xopen_regular(path, 0, NULL, e);
	if (fd < 0)
		return -1;
	data = xmalloc(SSHKEY_FILE_MAX + 1);
	got = xread_full(fd, data, SSHKEY_FILE_MAX + 1);
	if (got < 0) {
		err_errno(e, "cannot read '%s'", path);
		goto out;
	}
	len = (size_t)got;
	if (len > SSHKEY_FILE_MAX) {
		err_set(e, "'%s' is larger than %d bytes, too large for a key", path, SSHKEY_FILE_MAX);
		goto out;
	}
	if (sshkey_probe_buf(data, len, ret, e) < 0) {
		err_prefix(e, "'%s' is damaged", path);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(data, SSHKEY_FILE_MAX + 1);
	free(data);
	close(fd);
	return rc;
}

#define USE_ED25519 "use an ed25519 key (ssh-keygen -t ed25519)"

enum sshkey_verdict sshkey_judge(const struct sshkey_info *k, const char *path, char *msg, size_t msgsz)
{
	const char *t = k->type;

	msg[0] = '\0';
	switch (k->format) {
	case SSHKEY_PUBLIC:
		snprintf(msg, msgsz, "ssh_key_file '%s' is a public key (%s); give the private key "
			 "(the file without .pub)", path, t);
		return SSHKEY_UNUSABLE;
	case SSHKEY_PUTTY:
		snprintf(msg, msgsz, "ssh_key_file '%s' is a PuTTY key, which libssh2 cannot read; convert "
			 "it (puttygen '%s' -O private-openssh -o NEWFILE)", path, path);
		return SSHKEY_UNUSABLE;
	case SSHKEY_UNKNOWN:
		snprintf(msg, msgsz, "ssh_key_file '%s' does not look like an SSH private key (no "
			 "'-----BEGIN OPENSSH PRIVATE KEY-----' or PEM private key); " USE_ED25519, path);
		return SSHKEY_WARN;
	default:
		break;
	}
	if (k->encrypted) {
		snprintf(msg, msgsz, "ssh_key_file '%s' is encrypted with a passphrase, which the agent "
			 "cannot supply; remove it (ssh-keygen -p -N '' -f '%s') and keep the file mode 0600",
			 path, path);
		return SSHKEY_UNUSABLE;
	}
	if (!strcmp(t, "ssh-ed25519") || !strncmp(t, "ecdsa-sha2-nistp", 16))
		return SSHKEY_OK;
	if (!strcmp(t, "ssh-rsa")) {
		if (SSHKEY_RSA_SHA2)
			return SSHKEY_OK;
		snprintf(msg, msgsz, "ssh_key_file '%s' is an RSA key: this build's libssh2 signs RSA "
			 "with SHA-1 (ssh-rsa) only, which OpenSSH 8.8+ and GitHub refuse; " USE_ED25519, path);
		return SSHKEY_WARN;
	}
	if (!strcmp(t, "ssh-dss")) {
		snprintf(msg, msgsz, "ssh_key_file '%s' is a DSA key, which OpenSSH 7.0+ and GitHub "
			 "refuse; " USE_ED25519, path);
		return SSHKEY_WARN;
	}
	if (!strncmp(t, "sk-", 3) && SSHKEY_SK)
		return SSHKEY_OK;
	if (!strncmp(t, "sk-", 3)) {
		snprintf(msg, msgsz, "ssh_key_file '%s' is a FIDO security key (%s), which this build's "
			 "libssh2 cannot use; " USE_ED25519, path, t);
		return SSHKEY_UNUSABLE;
	}
	if (!strcmp(t, "ecdsa")) {
		snprintf(msg, msgsz, "ssh_key_file '%s' is an ECDSA key on a curve SSH does not use "
			 "(only nistp256, nistp384, nistp521); " USE_ED25519, path);
		return SSHKEY_UNUSABLE;
	}
	if (!*t) {
		snprintf(msg, msgsz, "ssh_key_file '%s' holds a key of a type this agent does not "
			 "recognise; " USE_ED25519, path);
		return SSHKEY_WARN;
	}
	snprintf(msg, msgsz, "ssh_key_file '%s' is a key of type '%s', which this build's libssh2 "
		 "cannot use; " USE_ED25519, path, t);
	return SSHKEY_UNUSABLE;
}

enum sshkey_verdict sshkey_check(const char *path, char *msg, size_t msgsz)
{
	struct sshkey_info k;
	struct err e = ERR_INIT;

	if (sshkey_probe(path, &k, &e) < 0) {
		snprintf(msg, msgsz, "ssh_key_file: cannot check the key type: %s", e.msg);
		return SSHKEY_WARN;
	}
	return sshkey_judge(&k, path, msg, msgsz);
}
