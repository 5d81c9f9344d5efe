# s2i-agent build. `make` builds the daemon, `make check` runs every test
# (unit tests and end-to-end tests under ASan+UBSan), `make bench` prints figures.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SANITIZE ?= 0
# make check builds with sanitizers unless told otherwise (CHECK_SANITIZE=0)
CHECK_SANITIZE ?= 1

PKGS    = libgit2 libcurl openssl libevent libevent_pthreads inih jansson sqlite3 libarchive
WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wcast-qual -Wformat=2 -Wno-format-nonliteral \
          -Wno-format-truncation  # messages are cut to fixed buffers on purpose
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS)) -Iagent
LIBS    = $(shell pkg-config --libs $(PKGS)) -lpthread -lm

ifeq ($(SANITIZE),1)
BUILD   = build/san
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN   = -fsanitize=address,undefined
else
BUILD   = build/rel
LDSAN   =
endif

SRCS    = $(sort $(wildcard agent/*.c))
LIBSRCS = $(filter-out agent/main.c,$(SRCS))
OBJS    = $(LIBSRCS:agent/%.c=$(BUILD)/obj/%.o)
UNITSRC = $(sort $(wildcard tests/unit/test_*.c))
UNITS   = $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/%)
BIN     = $(BUILD)/s2i-agent

.PHONY: all check unit e2e bench install uninstall clean demo fuzz chaos

all: $(BIN)
	@ln -sf $(BIN) s2i-agent

$(BUILD)/obj/%.o: agent/%.c $(wildcard agent/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libagent.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/main.o $(BUILD)/libagent.a
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libagent.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libagent.a $(LDSAN) $(LIBS) $(shell pkg-config --libs cmocka)

unit-build: $(UNITS) $(BIN)

# The test build: sanitizers on by default; every unit test, then every end-to-end test.
check:
	$(MAKE) SANITIZE=$(CHECK_SANITIZE) unit-build
	$(MAKE) all
	tests/run SANITIZE=$(CHECK_SANITIZE)

unit:
	$(MAKE) SANITIZE=$(CHECK_SANITIZE) unit-build
	tests/run --unit-only SANITIZE=$(CHECK_SANITIZE)

e2e:
	$(MAKE) SANITIZE=$(CHECK_SANITIZE) unit-build
	tests/run --e2e-only SANITIZE=$(CHECK_SANITIZE)

bench: all
	tests/bench/run

clean:
	rm -rf build s2i-agent
