/* Fuzz target: the Engine API stream parsers — the multiplexed log framing
 * (fed in pieces at input-chosen split points) and the JSON progress stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static int sink(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	size_t *total = arg;

	(void)stream; (void)data; (void)e;
	*total += len;
	return 0;
}

static int progress(void *arg, const char *line, struct err *e)
{
	(void)arg; (void)line; (void)e;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_demux d = ENGINE_DEMUX_INIT;
	struct engine_jsonstream js;
	struct err e = ERR_INIT;
	size_t total = 0, off = 0, step;
	char *name = NULL, *tag = NULL, reg[256];

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 13 + 1;
	data++;
	size--;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		if (engine_demux_feed(&d, data + off, n, sink, &total, &e) < 0)
			break;
		off += n;
	}
	(void)engine_demux_finish(&d, &e);

	engine_jsonstream_init(&js, progress, NULL);
	for (off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		if (engine_jsonstream_feed(&js, data + off, n, &e) < 0)
			break;
	}
	(void)engine_jsonstream_finish(&js, &e);
	engine_jsonstream_release(&js);
	/* the daemon's read of /info (min_free_space) */
	(void)engine_api_root_dir((const char *)data, size, reg, sizeof(reg), &e);

	if (size < 512) {
		char ref[512];

		memcpy(ref, data, size);
		ref[size] = '\0';
		if (strlen(ref) == size && engine_ref_split(ref, &name, &tag, &e) == 0) {
			free(name);
			free(tag);
		}
		engine_ref_registry(ref, reg, sizeof(reg));
	}
	return 0;
}
