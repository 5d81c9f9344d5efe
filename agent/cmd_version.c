/* cmd_version: `s2i-agent version`, its version and its libraries' versions */
#include <stdio.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <git2.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "cmds.h"
#include "limits.h"

int cmd_version(int argc, char **argv)
{
	int maj, min, rev;

	if (argc > 1)
		return cmds_usage_error("version", "unexpected argument '%s'", argv[1]);
	git_libgit2_version(&maj, &min, &rev);
	printf("s2i-agent %s\n", S2I_AGENT_VERSION);
	printf("libgit2 %d.%d.%d\n", maj, min, rev);
	printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("libevent %s\n", event_get_version());
	return 0;
}
