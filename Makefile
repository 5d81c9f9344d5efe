# s2i-agent build. `make` builds the daemon, `make check` runs every test
# (unit tests and end-to-end tests under ASan+UBSan), `make bench` prints figures.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SANITIZE ?= 0
# make check builds with sanitizers unless told otherwise (CHECK_SANITIZE=0)
CHECK_SANITIZE ?= 1
# seconds each fuzz target runs inside make check
CHECK_FUZZ_SECONDS ?= 10

PKGS    = libgit2 libcurl openssl nettle libevent libevent_pthreads inih jansson sqlite3 libarchive zlib libpq
WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wcast-qual -Wformat=2 -Wno-format-nonliteral
# messages are cut to fixed buffers on purpose (gcc only: clang has no such warning
# and -Werror turns its unknown-option warning into an error)
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
WARN   += -Wno-format-truncation
endif
CFLAGS  ?= -O2 -g
# each object also writes the headers it read (build/*/obj/x.d, included at the
# end), so a header change rebuilds what includes it and nothing else
DEPFLAGS = -MMD -MP
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS)) -Iagent
LIBS    = $(shell pkg-config --libs $(PKGS)) -lpthread -lm
# s2i-agentd, the daemon's lean executable (cmds.h): what `serve` links, without
# libgit2, libcurl, libarchive and OpenSSL (nettle gives it SHA-256 and HMAC for
# ~0.3 MB where libcrypto costs ~4 MB). A module the daemon uses that needs one of
# them makes this link fail: move that I/O into a child command instead.
# libpq (a database on PostgreSQL) is loaded at run time by store_pg.c, only by an
# agent configured for it.
DPKGS   = libevent libevent_pthreads inih jansson sqlite3 nettle
DLIBS   = $(shell pkg-config --libs $(DPKGS)) -lpthread -lm

ifeq ($(SANITIZE),1)
BUILD   = build/san
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN   = -fsanitize=address,undefined
else
BUILD   = build/rel
LDSAN   =
endif

SRCS    = $(sort $(wildcard agent/*.c))
LIBSRCS = $(filter-out agent/main.c agent/main_daemon.c,$(SRCS))
OBJS    = $(LIBSRCS:agent/%.c=$(BUILD)/obj/%.o)
UNITSRC = $(sort $(wildcard tests/unit/test_*.c))
UNITS   = $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/%)
# what unit tests share (fixtures: tests/unit/*.c other than test_*.c), linked into each
FIXSRC  = $(filter-out $(UNITSRC),$(sort $(wildcard tests/unit/*.c)))
FIXOBJS = $(FIXSRC:tests/unit/%.c=$(BUILD)/testfix/%.o)
BIN     = $(BUILD)/s2i-agent
DBIN    = $(BUILD)/s2i-agentd

.PHONY: all unit-build check unit e2e valgrind bench clean demo demo-clean install uninstall \
	fuzz-build fuzz chaos mutants codemap deb soak

all: $(BIN) $(DBIN)
	@ln -sf $(BIN) s2i-agent

$(BUILD)/obj/%.o: agent/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/libagent.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/main.o $(BUILD)/libagent.a
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(DBIN): $(BUILD)/obj/main_daemon.o $(BUILD)/libagent.a
	$(CC) $(LDSAN) -Wl,--as-needed -o $@ $^ $(DLIBS)

$(BUILD)/testfix/%.o: tests/unit/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/libtestfix.a: $(FIXOBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtestfix.a $(BUILD)/libagent.a Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -Itests/unit -o $@ $< $(BUILD)/libtestfix.a $(BUILD)/libagent.a $(LDSAN) $(LIBS) \
		$(shell pkg-config --libs cmocka)

unit-build: $(UNITS) $(BIN) $(DBIN)

# The test build: sanitizers on by default; every unit test, then every end-to-end test,
# then the engine matrix (tests/run: the engine tests and e2e/build-* again on Docker 28.5
# on both image stores and Podman 5, from a cached Debian sid root; skipped with the
# reason when the Debian archive cannot be reached).
check:
	$(MAKE) SANITIZE=$(CHECK_SANITIZE) unit-build
	$(MAKE) all
	tests/mutants/run --check
	$(MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	tests/run SANITIZE=$(CHECK_SANITIZE)
	tests/valgrind/run

unit:
	$(MAKE) SANITIZE=$(CHECK_SANITIZE) unit-build
	tests/run --unit-only SANITIZE=$(CHECK_SANITIZE)

e2e:
	$(MAKE) SANITIZE=$(CHECK_SANITIZE) unit-build
	tests/run --e2e-only SANITIZE=$(CHECK_SANITIZE)

# the daemon's end-to-end flow under valgrind (release build): errors or definite leaks fail
valgrind:
	$(MAKE) SANITIZE=0 all
	tests/valgrind/run

bench: all
	tests/bench/run

# The long soak (tests/soak/soak.sh): SOAK_BUILDS builds through the real daemon and
# engine with retention set low; asserts that the database, logs, images and mirrors
# level off and that RSS and open descriptors stay flat, and prints the figures. make
# check runs a short one (tests/e2e/soak-short.sh, 160 builds).
SOAK_BUILDS ?= 5000
soak: all
	SOAK_BUILDS=$(SOAK_BUILDS) S2I_AGENT=$(CURDIR)/build/rel/s2i-agent tests/soak/soak.sh

# Deliberate bugs (tests/mutants/mutants.txt), each applied alone to a scratch copy and
# run against the tests that must catch it; fails if one survives. Slow: not in check,
# which only verifies that every mutant still applies to the code.
mutants:
	tests/mutants/run

clean:
	rm -rf build s2i-agent

# HACKING.md's file map: its line counts refreshed, then every file's functions and
# those over 100 lines (tests/codemap; tests/e2e/hacking-map.sh checks the file list)
codemap:
	tests/codemap --update HACKING.md
	tests/codemap

# The README's "run it": a bare repository, a push, the build streaming back, the image
# answering (conf/demo/demo.sh says what it does; demo-clean removes what it left).
demo:
	@conf/demo/demo.sh

demo-clean:
	@conf/demo/demo.sh clean

# --- install / uninstall -------------------------------------------------------
# PREFIX=/usr/local (default) or /usr: systemd reads units, sysusers.d and tmpfiles.d
# from $(PREFIX)/lib/... for both. For another PREFIX set UNITDIR, SYSUSERSDIR and
# TMPFILESDIR to directories systemd searches (e.g. /etc/systemd/system).
# The configuration goes to $(SYSCONFDIR)/s2i-agent and is never overwritten or removed;
# the state (/var/lib/s2i-agent) is never touched.
SYSCONFDIR  ?= /etc
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MANDIR      ?= $(PREFIX)/share/man
HOOKSDIR    ?= $(PREFIX)/share/s2i-agent/hooks
HOOKS        = $(wildcard hooks/*)

install:
	$(MAKE) SANITIZE=0 all
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(HOOKSDIR)
	install -m 0755 build/rel/s2i-agent $(DESTDIR)$(BINDIR)/s2i-agent
	install -m 0755 build/rel/s2i-agentd $(DESTDIR)$(BINDIR)/s2i-agentd
	sed 's|/usr/local/bin/s2i-agent|$(BINDIR)/s2i-agent|g' systemd/s2i-agent.service \
		>$(DESTDIR)$(UNITDIR)/s2i-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/s2i-agent.service
	install -m 0644 systemd/s2i-agent.sysusers $(DESTDIR)$(SYSUSERSDIR)/s2i-agent.conf
	install -m 0644 systemd/s2i-agent.tmpfiles $(DESTDIR)$(TMPFILESDIR)/s2i-agent.conf
	install -m 0644 conf/man/s2i-agent.8 $(DESTDIR)$(MANDIR)/man8/s2i-agent.8
	install -m 0644 conf/man/s2i-agent.conf.5 $(DESTDIR)$(MANDIR)/man5/s2i-agent.conf.5
	$(if $(HOOKS),install -m 0755 $(HOOKS) $(DESTDIR)$(HOOKSDIR)/)
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/s2i-agent
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/s2i-agent/agent.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/s2i-agent/agent.conf"; \
	else \
		install -m 0640 conf/agent.conf $(DESTDIR)$(SYSCONFDIR)/s2i-agent/agent.conf; \
	fi
	@# Into the running system: create the user, fix the modes, let systemd see the unit.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		command -v systemd-sysusers >/dev/null && systemd-sysusers $(SYSUSERSDIR)/s2i-agent.conf; \
		command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create $(TMPFILESDIR)/s2i-agent.conf; \
		[ -d /run/systemd/system ] && systemctl daemon-reload; \
		echo "edit $(SYSCONFDIR)/s2i-agent/agent.conf, then: systemctl enable --now s2i-agent"; \
	fi; true

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/s2i-agent $(DESTDIR)$(BINDIR)/s2i-agentd $(DESTDIR)$(UNITDIR)/s2i-agent.service \
		$(DESTDIR)$(SYSUSERSDIR)/s2i-agent.conf $(DESTDIR)$(TMPFILESDIR)/s2i-agent.conf \
		$(DESTDIR)$(MANDIR)/man8/s2i-agent.8 $(DESTDIR)$(MANDIR)/man5/s2i-agent.conf.5
	rm -rf $(DESTDIR)$(HOOKSDIR)
	rmdir $(DESTDIR)$(PREFIX)/share/s2i-agent 2>/dev/null || true
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/s2i-agent and /var/lib/s2i-agent (configuration and state)"

# ---- Debian package: build/s2i-agent_VERSION_ARCH.deb with dpkg-buildpackage ------
# (debian/ generated into build/deb-src from conf/deb/; its rules use `make install`)
deb:
	conf/deb/mkdeb $(CURDIR)

# ---- fuzzing (libFuzzer): `make fuzz FUZZ_SECONDS=N` runs every target N seconds ----
FUZZ_SECONDS ?= 10
FUZZ_CC      ?= clang
FUZZ_BUILD    = build/fuzz
FUZZ_FLAGS    = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# the same warnings as the daemon's build; -Wno-format-truncation is gcc's alone
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE $(filter-out -Wno-format-truncation,$(WARN)) $(FUZZ_FLAGS) $(shell pkg-config --cflags $(PKGS)) -Iagent
FUZZ_OBJS     = $(LIBSRCS:agent/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SRCS     = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS     = $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: agent/%.c Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libagent.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_BUILD)/libagent.a Makefile
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libagent.a $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_BINS)

# ---- crash campaign: deliveries and builds while the daemon is SIGKILLed and restarted ----
# then the fleet's (tests/e2e/fleet-chaos.sh, short in make check): four agents on one
# PostgreSQL under SIGKILLs, a PostgreSQL restart and a cut-off agent
CHAOS_DELIVERIES ?= 40
CHAOS_KILLS      ?= 8
FLEET_CHAOS_DELIVERIES ?= 200
FLEET_CHAOS_KILLS      ?= 20
chaos: all
	S2I_AGENT=$(CURDIR)/build/rel/s2i-agent tests/chaos/run $(CHAOS_DELIVERIES) $(CHAOS_KILLS)
	S2I_AGENT=$(CURDIR)/build/rel/s2i-agent TESTS_DIR=$(CURDIR)/tests \
		FLEET_CHAOS_DELIVERIES=$(FLEET_CHAOS_DELIVERIES) FLEET_CHAOS_KILLS=$(FLEET_CHAOS_KILLS) \
		bash tests/e2e/fleet-chaos.sh

# the dependency files the compiler wrote (none before the first build)
-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/testfix/*.d $(BUILD)/tests/*.d \
	$(FUZZ_BUILD)/obj/*.d $(FUZZ_BUILD)/*.d)
