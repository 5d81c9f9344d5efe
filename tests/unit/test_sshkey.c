/* Unit tests for sshkey: key files made by ssh-keygen and openssl at test time in every
 * format they write, headers built here for the cases they do not make (FIDO, damaged),
 * and what config_load and `check` make of them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "codec.h"
#include "runfixture.h"
#include "sshkey.h"

static char dir[] = "/tmp/s2i-test-sshkey.XXXXXX";

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void put(const char *name, const char *text, size_t len)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(p, 0600), 0);
	free(p);
}

/* Runs argv quietly; 0 when it exited 0. */
static int run(const char *const *argv)
{
	struct err e = ERR_INIT;

	return rf_run_quiet(argv, &e);
}

static int have(const char *prog)
{
	const char *argv[] = { "sh", "-c", "command -v \"$0\"", prog, NULL };

	return run(argv) == 0;
}

/* ssh-keygen -q -N PASS -f DIR/NAME ARGS... */
static void keygen(const char *name, const char *pass, ...)
{
	const char *argv[16] = { "ssh-keygen", "-q", "-N", pass, "-C", "test", "-f" };
	char *p = path_of(name);
	int n = 7;
	va_list ap;

	argv[n++] = p;
	va_start(ap, pass);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (run(argv) != 0)
		fail_msg("ssh-keygen %s failed", name);
	free(p);
}

static void check_file(const char *name, enum sshkey_format fmt, const char *type, int encrypted,
		       enum sshkey_verdict verdict, const char *says)
{
	struct sshkey_info k;
	struct err e = ERR_INIT;
	char msg[ERR_MSG_MAX], *p = path_of(name);

	if (sshkey_probe(p, &k, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
	if (k.format != fmt || strcmp(k.type, type) || k.encrypted != encrypted)
		fail_msg("%s: format %d type '%s' encrypted %d, expected %d '%s' %d", name, k.format,
			 k.type, k.encrypted, fmt, type, encrypted);
	if (sshkey_judge(&k, p, msg, sizeof(msg)) != verdict || (says && !strstr(msg, says)))
		fail_msg("%s: verdict '%s', expected %d with '%s'", name, msg, verdict, says ? says : "");
	if (verdict == SSHKEY_OK)
		assert_string_equal(msg, "");
	else
		assert_non_null(strstr(msg, p));	/* it names the file */
	assert_int_equal(sshkey_check(p, msg, sizeof(msg)), verdict);
	free(p);
}

static void test_ssh_keygen_keys(void **state)
{
	(void)state;
	if (!have("ssh-keygen"))
		skip();
	keygen("ed25519", "", "-t", "ed25519", NULL);
	keygen("ed25519_enc", "secret", "-t", "ed25519", NULL);
	keygen("rsa", "", "-t", "rsa", "-b", "1024", NULL);
	keygen("rsa_pem", "", "-t", "rsa", "-b", "1024", "-m", "PEM", NULL);
	keygen("rsa_pkcs8", "", "-t", "rsa", "-b", "1024", "-m", "PKCS8", NULL);
	keygen("rsa_pem_enc", "secret", "-t", "rsa", "-b", "1024", "-m", "PEM", NULL);
	keygen("rsa_pkcs8_enc", "secret", "-t", "rsa", "-b", "1024", "-m", "PKCS8", NULL);
	keygen("ecdsa256", "", "-t", "ecdsa", "-b", "256", NULL);
	keygen("ecdsa384", "", "-t", "ecdsa", "-b", "384", NULL);
	keygen("ecdsa521", "", "-t", "ecdsa", "-b", "521", NULL);
	keygen("ecdsa_pem", "", "-t", "ecdsa", "-b", "384", "-m", "PEM", NULL);
	keygen("ecdsa_pkcs8", "", "-t", "ecdsa", "-b", "521", "-m", "PKCS8", NULL);
	keygen("ecdsa_pem_enc", "secret", "-t", "ecdsa", "-m", "PEM", NULL);

	check_file("ed25519", SSHKEY_OPENSSH, "ssh-ed25519", 0, SSHKEY_OK, NULL);
	check_file("ed25519_enc", SSHKEY_OPENSSH, "ssh-ed25519", 1, SSHKEY_UNUSABLE, "passphrase");
	check_file("rsa", SSHKEY_OPENSSH, "ssh-rsa", 0, SSHKEY_WARN,
		   "is an RSA key: this build's libssh2 signs RSA with SHA-1 (ssh-rsa) only, which "
		   "OpenSSH 8.8+ and GitHub refuse; use an ed25519 key (ssh-keygen -t ed25519)");
	check_file("rsa_pem", SSHKEY_PEM, "ssh-rsa", 0, SSHKEY_WARN, "is an RSA key");
	check_file("rsa_pkcs8", SSHKEY_PKCS8, "ssh-rsa", 0, SSHKEY_WARN, "is an RSA key");
	check_file("rsa_pem_enc", SSHKEY_PEM, "ssh-rsa", 1, SSHKEY_UNUSABLE, "passphrase");
	check_file("rsa_pkcs8_enc", SSHKEY_PKCS8, "", 1, SSHKEY_UNUSABLE, "passphrase");
	check_file("ecdsa256", SSHKEY_OPENSSH, "ecdsa-sha2-nistp256", 0, SSHKEY_OK, NULL);
	check_file("ecdsa384", SSHKEY_OPENSSH, "ecdsa-sha2-nistp384", 0, SSHKEY_OK, NULL);
	check_file("ecdsa521", SSHKEY_OPENSSH, "ecdsa-sha2-nistp521", 0, SSHKEY_OK, NULL);
	check_file("ecdsa_pem", SSHKEY_PEM, "ecdsa-sha2-nistp384", 0, SSHKEY_OK, NULL);
	check_file("ecdsa_pkcs8", SSHKEY_PKCS8, "ecdsa-sha2-nistp521", 0, SSHKEY_OK, NULL);
	check_file("ecdsa_pem_enc", SSHKEY_PEM, "ecdsa", 1, SSHKEY_UNUSABLE, "passphrase");
	check_file("ed25519.pub", SSHKEY_PUBLIC, "ssh-ed25519", 0, SSHKEY_UNUSABLE, "is a public key");
	check_file("rsa.pub", SSHKEY_PUBLIC, "ssh-rsa", 0, SSHKEY_UNUSABLE, "without .pub");

	/* OpenSSH 9.2 still makes DSA keys (later releases dropped them) */
	if (access("/usr/bin/ssh-keygen", X_OK) == 0) {
		const char *argv[] = { "ssh-keygen", "-q", "-N", "", "-t", "dsa", "-f", NULL, NULL };
		char *p = path_of("dsa");

		argv[7] = p;
		if (run(argv) == 0)
			check_file("dsa", SSHKEY_OPENSSH, "ssh-dss", 0, SSHKEY_WARN, "is a DSA key");
		free(p);
	}
}

/* keys only openssl makes: PKCS#8 ed25519, an EC key on a curve SSH does not use */
static void test_openssl_keys(void **state)
{
	const char *ed[] = { "openssl", "genpkey", "-algorithm", "ed25519", "-out", NULL, NULL };
	const char *k1[] = { "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
			     "ec_paramgen_curve:secp256k1", "-out", NULL, NULL };
	const char *k1sec1[] = { "openssl", "ec", "-in", NULL, "-out", NULL, NULL };
	char *a = path_of("ed25519_pkcs8"), *b = path_of("k1_pkcs8"), *c = path_of("k1_sec1");

	(void)state;
	if (!have("openssl")) {
		free(a), free(b), free(c);
		skip();
	}
	ed[5] = a;
	k1[7] = b;
	k1sec1[3] = b;
	k1sec1[5] = c;
	assert_int_equal(run(ed), 0);
	assert_int_equal(run(k1), 0);
	assert_int_equal(run(k1sec1), 0);
	check_file("ed25519_pkcs8", SSHKEY_PKCS8, "ssh-ed25519", 0, SSHKEY_OK, NULL);
	check_file("k1_pkcs8", SSHKEY_PKCS8, "ecdsa", 0, SSHKEY_UNUSABLE, "curve");
	check_file("k1_sec1", SSHKEY_PEM, "ecdsa", 0, SSHKEY_UNUSABLE, "curve");
	free(a), free(b), free(c);
}

/* --- headers built here ---------------------------------------------------- */

static void wire_str(struct buf *b, const char *s, size_t n)
{
	unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				 (unsigned char)(n >> 8), (unsigned char)n };

	buf_add(b, len, 4);
	buf_add(b, s, n);
}

/* PEM armour around bytes: base64 in lines of 70, with eol, after text before it. */
static char *armour(const char *label, const void *bytes, size_t n, const char *before,
		    const char *eol)
{
	struct buf b = BUF_INIT(1 << 20);
	char *b64 = xmalloc(4 * (n / 3 + 1) + 1);
	long len = codec_base64_encode(bytes, n, b64, 4 * (n / 3 + 1) + 1);
	long i;

	assert_true(len > 0);
	buf_addf(&b, "%s-----BEGIN %s-----%s", before, label, eol);
	for (i = 0; i < len; i += 70)
		buf_addf(&b, "%.*s%s", (int)(len - i < 70 ? len - i : 70), b64 + i, eol);
	buf_addf(&b, "-----END %s-----%s", label, eol);
	free(b64);
	return buf_detach(&b, NULL);
}

/* An openssh-key-v1 body: cipher and key type, cut to cut bytes when cut is not 0. */
static char *openssh_key(const char *cipher, const char *type, size_t cut, const char *eol)
{
	struct buf b = BUF_INIT(1 << 20), pub = BUF_INIT(1 << 20);
	static const unsigned char one[4] = { 0, 0, 0, 1 };
	char *out;

	buf_add(&b, "openssh-key-v1", 15);
	wire_str(&b, cipher, strlen(cipher));
	wire_str(&b, strcmp(cipher, "none") ? "bcrypt" : "none", strcmp(cipher, "none") ? 6 : 4);
	wire_str(&b, "", 0);
	buf_add(&b, one, 4);
	wire_str(&pub, type, strlen(type));
	wire_str(&pub, "0123456789abcdef0123456789abcdef", 32);	/* not a real key */
	wire_str(&b, pub.data, pub.len);
	wire_str(&b, "private part, not looked at", 27);
	out = armour("OPENSSH PRIVATE KEY", b.data, cut ? cut : b.len, "", eol);
	buf_release(&b);
	buf_release(&pub);
	return out;
}

struct built {
	const char *what;
	char *text;
	int rc;				/* sshkey_probe_buf */
	enum sshkey_format format;
	const char *type;
	int encrypted;
	enum sshkey_verdict verdict;
	const char *says;
};

static void test_built_headers(void **state)
{
	/* PKCS#8 PrivateKeyInfo: version, AlgorithmIdentifier (OID [, curve OID]), key */
	static const unsigned char p8_rsa[] = { 0x30, 0x14, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09,
		0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x00 };
	static const unsigned char p8_p256[] = { 0x30, 0x18, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07,
		0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
		0x01, 0x07 };
	static const unsigned char p8_ed448[] = { 0x30, 0x0c, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03,
		0x2b, 0x65, 0x71, 0x04, 0x00 };
	static const unsigned char p8_cut[] = { 0x30, 0x14, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09,
		0x2a, 0x86 };
	struct built t[] = {
		{ "ed25519", openssh_key("none", "ssh-ed25519", 0, "\n"), 0, SSHKEY_OPENSSH,
		  "ssh-ed25519", 0, SSHKEY_OK, NULL },
		{ "rsa, CRLF", openssh_key("none", "ssh-rsa", 0, "\r\n"), 0, SSHKEY_OPENSSH, "ssh-rsa", 0,
		  SSHKEY_WARN, "SHA-1" },
		{ "rsa, encrypted", openssh_key("aes256-ctr", "ssh-rsa", 0, "\n"), 0, SSHKEY_OPENSSH,
		  "ssh-rsa", 1, SSHKEY_UNUSABLE, "passphrase" },
		{ "fido", openssh_key("none", "sk-ssh-ed25519@openssh.com", 0, "\n"), 0, SSHKEY_OPENSSH,
		  "sk-ssh-ed25519@openssh.com", 0, SSHKEY_UNUSABLE, "FIDO" },
		{ "xmss", openssh_key("none", "ssh-xmss@openssh.com", 0, "\n"), 0, SSHKEY_OPENSSH,
		  "ssh-xmss@openssh.com", 0, SSHKEY_UNUSABLE, "type 'ssh-xmss@openssh.com'" },
		{ "binary type", openssh_key("none", "ssh-\x01\xff", 0, "\n"), 0, SSHKEY_OPENSSH,
		  "ssh-??", 0, SSHKEY_UNUSABLE, "type 'ssh-?" "?'" },
		{ "truncated", openssh_key("none", "ssh-ed25519", 40, "\n"), -1, 0, "", 0, 0, NULL },
		{ "no magic", armour("OPENSSH PRIVATE KEY", "openssh-key-v2", 15, "", "\n"), -1, 0, "",
		  0, 0, NULL },
		{ "bad base64", xstrdup("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn*!\n"
					"-----END OPENSSH PRIVATE KEY-----\n"), -1, 0, "", 0, 0, NULL },
		{ "no end", xstrdup("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n"),
		  -1, 0, "", 0, 0, NULL },
		{ "other end", xstrdup("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
				       "-----END EC PRIVATE KEY-----\n"), -1, 0, "", 0, 0, NULL },
		{ "pem rsa, text before", xstrdup("a comment\n\n-----BEGIN RSA PRIVATE KEY-----\n"
						  "AAAA\n-----END RSA PRIVATE KEY-----\n"), 0, SSHKEY_PEM,
		  "ssh-rsa", 0, SSHKEY_WARN, "RSA" },
		{ "pem rsa, encrypted", xstrdup("-----BEGIN RSA PRIVATE KEY-----\n"
						"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
						"AAAA\n-----END RSA PRIVATE KEY-----\n"), 0, SSHKEY_PEM,
		  "ssh-rsa", 1, SSHKEY_UNUSABLE, "passphrase" },
		{ "pem dsa", xstrdup("-----BEGIN DSA PRIVATE KEY-----\nAAAA\n"
				     "-----END DSA PRIVATE KEY-----\n"), 0, SSHKEY_PEM, "ssh-dss", 0,
		  SSHKEY_WARN, "DSA" },
		{ "pkcs8 rsa", armour("PRIVATE KEY", p8_rsa, sizeof(p8_rsa), "", "\n"), 0, SSHKEY_PKCS8,
		  "ssh-rsa", 0, SSHKEY_WARN, "RSA" },
		{ "pkcs8 p256", armour("PRIVATE KEY", p8_p256, sizeof(p8_p256), "", "\n"), 0,
		  SSHKEY_PKCS8, "ecdsa-sha2-nistp256", 0, SSHKEY_OK, NULL },
		{ "pkcs8 ed448", armour("PRIVATE KEY", p8_ed448, sizeof(p8_ed448), "", "\n"), 0,
		  SSHKEY_PKCS8, "", 0, SSHKEY_WARN, "does not recognise" },
		{ "pkcs8 cut", armour("PRIVATE KEY", p8_cut, sizeof(p8_cut), "", "\n"), -1, 0, "", 0, 0,
		  NULL },
		{ "pkcs8 encrypted", xstrdup("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
					     "-----END ENCRYPTED PRIVATE KEY-----\n"), 0, SSHKEY_PKCS8,
		  "", 1, SSHKEY_UNUSABLE, "passphrase" },
		{ "certificate", xstrdup("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		  0, SSHKEY_UNKNOWN, "", 0, SSHKEY_WARN, "does not look like an SSH private key" },
		{ "public key", xstrdup("\necdsa-sha2-nistp256 AAAAE2VjZHNh user@host\n"), 0,
		  SSHKEY_PUBLIC, "ecdsa-sha2-nistp256", 0, SSHKEY_UNUSABLE, "public key" },
		{ "putty", xstrdup("PuTTY-User-Key-File-3: ssh-ed25519\r\nEncryption: none\r\n"), 0,
		  SSHKEY_PUTTY, "ssh-ed25519", 0, SSHKEY_UNUSABLE, "puttygen" },
		{ "putty, encrypted", xstrdup("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: aes256-cbc\n"),
		  0, SSHKEY_PUTTY, "ssh-rsa", 1, SSHKEY_UNUSABLE, "PuTTY" },
		{ "empty", xstrdup(""), 0, SSHKEY_UNKNOWN, "", 0, SSHKEY_WARN, "does not look like" },
		{ "text", xstrdup("key\n"), 0, SSHKEY_UNKNOWN, "", 0, SSHKEY_WARN, "does not look like" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sshkey_info k;
		struct err e = ERR_INIT;
		char msg[ERR_MSG_MAX];
		enum sshkey_verdict v;
		int rc;

		memset(&k, 0x5a, sizeof(k));
		rc = sshkey_probe_buf(t[i].text, strlen(t[i].text), &k, &e);
		if (rc != t[i].rc)
			fail_msg("%s: probe %d (%s), expected %d", t[i].what, rc, e.msg, t[i].rc);
		if (rc == 0) {
			if (k.format != t[i].format || strcmp(k.type, t[i].type) || k.encrypted != t[i].encrypted)
				fail_msg("%s: format %d type '%s' encrypted %d", t[i].what, k.format, k.type,
					 k.encrypted);
			v = sshkey_judge(&k, "/etc/k", msg, sizeof(msg));
			if (v != t[i].verdict || (t[i].says && !strstr(msg, t[i].says)))
				fail_msg("%s: verdict %d '%s'", t[i].what, v, msg);
		} else {
			assert_true(e.msg[0] != '\0');
			/* as a file: damaged, which is a warning (the parser may be wrong) */
			char *p = path_of("built");

			put("built", t[i].text, strlen(t[i].text));
			assert_int_equal(sshkey_check(p, msg, sizeof(msg)), SSHKEY_WARN);
			assert_non_null(strstr(msg, "is damaged"));
			free(p);
		}
		free(t[i].text);
	}
}

static void test_damaged_and_unreadable(void **state)
{
	struct sshkey_info k;
	struct err e = ERR_INIT;
	char msg[ERR_MSG_MAX], *p = path_of("damaged"), *big;
	static const char damaged[] = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n";

	(void)state;
	put("damaged", damaged, sizeof(damaged) - 1);
	assert_int_equal(sshkey_probe(p, &k, &e), -1);
	assert_non_null(strstr(e.msg, "is damaged"));
	assert_int_equal(sshkey_check(p, msg, sizeof(msg)), SSHKEY_WARN);
	assert_non_null(strstr(msg, "cannot check the key type"));
	free(p);

	p = path_of("missing");
	assert_int_equal(sshkey_check(p, msg, sizeof(msg)), SSHKEY_WARN);
	assert_non_null(strstr(msg, "No such file"));
	free(p);

	/* too large to be a key: refused, not read on and on */
	big = xmalloc(SSHKEY_FILE_MAX + 2);
	memset(big, 'A', SSHKEY_FILE_MAX + 1);
	put("big", big, SSHKEY_FILE_MAX + 1);
	p = path_of("big");
	assert_int_equal(sshkey_probe(p, &k, &e), -1);
	assert_non_null(strstr(e.msg, "too large"));
	free(big);
	free(p);
}

/* config_load: a warning for RSA (the config loads; check prints it), an error for a key
 * that can never work, nothing for ed25519; never a byte of the key in a message. */
static void test_config(void **state)
{
	static const char head[] = "[agent]\nstate_dir = %s/state\n\n[repo \"web\"]\n"
		"url = ssh://git@example.com/acme/web.git\nbuilder = b:1\nsecret_file = %s/secret\n"
		"ssh_key_file = %s/%s\n";
	struct strv errors = STRV_INIT;
	struct config *c = NULL;
	char *conf = path_of("agent.conf"), *text, body[17] = "", line[200];
	FILE *f;

	(void)state;
	if (!have("ssh-keygen"))
		skip();
	put("secret", "s3cret-s3cret-s3cret\n", 21);
	keygen("cfg_rsa", "", "-t", "rsa", "-b", "1024", NULL);
	keygen("cfg_ed", "", "-t", "ed25519", NULL);
	keygen("cfg_enc", "pass", "-t", "ed25519", NULL);

	text = xasprintf(head, dir, dir, dir, "cfg_ed");
	put("agent.conf", text, strlen(text));
	free(text);
	assert_int_equal(config_load(conf, &c, &errors), 0);
	assert_int_equal(c->warnings.n, 0);
	config_free(c);

	text = xasprintf(head, dir, dir, dir, "cfg_rsa");
	put("agent.conf", text, strlen(text));
	free(text);
	assert_int_equal(config_load(conf, &c, &errors), 0);
	assert_int_equal(errors.n, 0);
	assert_int_equal(c->warnings.n, 1);
	text = xasprintf("%s:8: warning: ssh_key_file '%s/cfg_rsa' is an RSA key: this build's "
			 "libssh2 signs RSA with SHA-1 (ssh-rsa) only, which OpenSSH 8.8+ and GitHub "
			 "refuse; use an ed25519 key (ssh-keygen -t ed25519)", conf, dir);
	assert_string_equal(c->warnings.items[0], text);
	free(text);
	config_free(c);

	/* with an error elsewhere, the warning comes with the errors */
	text = xasprintf(head, dir, dir, dir, "cfg_rsa");
	{
		char *more = xasprintf("%snot_a_key = 1\n", text);

		put("agent.conf", more, strlen(more));
		free(more);
	}
	free(text);
	assert_int_equal(config_load(conf, &c, &errors), -1);
	assert_int_equal(errors.n, 2);
	assert_non_null(strstr(errors.items[0], ":8: warning: ssh_key_file"));
	assert_non_null(strstr(errors.items[1], ":9: "));
	strv_clear(&errors);

	text = xasprintf(head, dir, dir, dir, "cfg_enc");
	put("agent.conf", text, strlen(text));
	free(text);
	assert_int_equal(config_load(conf, &c, &errors), -1);
	assert_int_equal(errors.n, 1);
	text = xasprintf("%s:8: ssh_key_file '%s/cfg_enc' is encrypted with a passphrase, which the "
			 "agent cannot supply; remove it (ssh-keygen -p -N '' -f '%s/cfg_enc') and keep "
			 "the file mode 0600", conf, dir, dir);
	assert_string_equal(errors.items[0], text);
	free(text);

	/* no key material in what is reported: the base64 body's first line is nowhere */
	text = path_of("cfg_enc");
	f = fopen(text, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	memcpy(body, line + 20, 16);	/* past the header's fixed base64 */
	assert_null(strstr(errors.items[0], body));
	strv_clear(&errors);
	free(text);
	free(conf);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };

	(void)state;
	return run(argv) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_keygen_keys),
		cmocka_unit_test(test_openssl_keys),
		cmocka_unit_test(test_built_headers),
		cmocka_unit_test(test_damaged_and_unreadable),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
