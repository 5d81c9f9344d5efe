/* Fuzz target: the SSH key-file reader (sshkey_probe_buf, sshkey_judge) over arbitrary
 * bytes: openssh-key-v1 headers, PEM armour, PKCS#8 and SEC1 DER, PuTTY and public keys. */
#include <stdint.h>
#include <string.h>

#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshkey_info k;
	struct err e = ERR_INIT;
	char msg[ERR_MSG_MAX];

	if (sshkey_probe_buf((const char *)data, size, &k, &e) == 0) {
		if (memchr(k.type, '\0', sizeof(k.type)) == NULL)
			__builtin_trap();	/* type is always a string */
		sshkey_judge(&k, "/k", msg, sizeof(msg));
	}
	return 0;
}
