/* Fuzz target: the configuration loader over arbitrary INI text.
 * The text goes through a memfd so config_load reads it as any file. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strv errors = STRV_INIT;
	struct config *c = NULL;
	char path[64];
	int fd;

	fd = memfd_create("fuzz.conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(path, &c, &errors) == 0)
		config_free(c);
	strv_clear(&errors);
	close(fd);
	return 0;
}
