# Tandem - top-level build. `make run` and `make test` are the two commands a
# user needs; both install missing Debian packages first (tools/deps.sh).

CC      ?= gcc
CONF    ?= etc
OPT     ?= -O2
PKGS    := libosip2 libevent libevent_openssl openssl libzmq libprotobuf-c
CFLAGS  += $(OPT) -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE \
           -Ilib -Ibuild/gen -Isignaling -Irouter -Imedia -Itests/fakes \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
           $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -losipparser2 -lhiredis -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer

GEN      := build/gen/tandem.pb-c.c
GEN_H    := build/gen/tandem.pb-c.h
LIB_SRCS := $(wildcard lib/*.c) $(GEN)
PROGS    := signaling router media
BINS     := $(PROGS:%=bin/tandem-%)

.PHONY: all deps run test test-fresh test-asan unit integration fuzz fuzz-build fuzz-ci bench bench-media bench-failover bench-hold bench-cluster clean check images
all: $(BINS) bin/tandemctl

deps:
	@bash tools/deps.sh

$(GEN) $(GEN_H): proto/tandem.proto
	@mkdir -p build/gen
	protoc-c --proto_path=proto --c_out=build/gen proto/tandem.proto

build/obj/%.o: %.c $(GEN_H) $(wildcard lib/*.h signaling/*.h router/*.h media/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

LIB_OBJS := $(LIB_SRCS:%.c=build/obj/%.o)
# A class of one process that another also needs: media's SDP reader, which
# signaling uses to check offers against a peer's allow= list.
# (and its a=crypto reader, for sip.conf encryption=).
SHARED_signaling := media/sdp.c media/sdp_crypto.c
# Libraries only one process links: the worker's SRTP (libsrtp2-dev).
LDLIBS_media := $(shell pkg-config --libs libsrtp2 2>/dev/null || echo -lsrtp2)
# ...and the router's CDRs to PostgreSQL (libpq-dev; router/cdr_pgsql.c).
LDLIBS_router := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
define prog_rule
bin/tandem-$(1): $$(patsubst %.c,build/obj/%.o,$$(wildcard $(1)/*.c) $$(SHARED_$(1))) $$(LIB_OBJS)
	@mkdir -p bin
	$$(CC) $$(CFLAGS) -o $$@ $$^ $$(LDLIBS) $$(LDLIBS_$(1))
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))
# tandemctl: the operator's CLI (ctl/), a bus client of the router; its
# prompt edits lines and keeps history with libedit (libedit-dev, BSD).
LDLIBS_ctl := $(shell pkg-config --libs libedit 2>/dev/null || echo -ledit)
bin/tandemctl: $(patsubst %.c,build/obj/%.o,$(wildcard ctl/*.c)) $(LIB_OBJS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(LDLIBS_ctl)

# Unit tests: one cmocka binary per tests/unit/<dir>/test_<class>.c, linked
# from ASan/UBSan objects (build/asan/, each source compiled once) of <dir>
# (without main.c). Tests of lib/ link the real bus; the others link
# tests/fakes instead of lib/td_bus.c.
UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/test/%)
FAKE_SRCS := $(wildcard tests/fakes/*.c)
SAN_LIB   := $(LIB_SRCS:%.c=build/asan/%.o)
SAN_NOBUS := $(filter-out build/asan/lib/td_bus.o,$(SAN_LIB))
SAN_FAKES := $(FAKE_SRCS:%.c=build/asan/%.o)

build/asan/%.o: %.c $(GEN_H) $(wildcard lib/*.h signaling/*.h router/*.h media/*.h tests/fakes/*.h tests/unit/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c -o $@ $<

build/test/lib/%: build/asan/tests/unit/lib/%.o $(SAN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) -lcmocka

define unit_rule
SAN_$(1) := $$(patsubst %.c,build/asan/%.o,$$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c)) $$(SHARED_$(1)))
build/test/$(1)/%: build/asan/tests/unit/$(1)/%.o $$(SAN_$(1)) $$(SAN_NOBUS) $$(SAN_FAKES)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(SAN) -o $$@ $$^ $$(LDLIBS) $$(LDLIBS_$(1)) -lcmocka
endef
$(foreach p,$(PROGS),$(eval $(call unit_rule,$(p))))

unit: $(UNIT_BINS)
	@bash tools/run-unit.sh $(UNIT_BINS)

# Fuzzing (libFuzzer, clang from Debian: clang-14, libclang-rt-14-dev). One
# harness per tests/fuzz/<process>_<name>.c (LLVMFuzzerTestOneInput), linked
# with the objects of <process> (without main.c), lib/ without the real bus,
# and the bus fake, all compiled once by clang with coverage and ASan/UBSan
# (build/fuzzobj/). Seeds: tests/fuzz/corpus/<harness>/; what a run finds is
# kept in build/fuzz/corpus/<harness>/, a crash in build/fuzz/crash-<harness>-*
# and fails the target. `make fuzz` runs each FUZZ_TIME seconds; `make test`
# runs fuzz-ci: FUZZ_CI_TIME seconds each.
FUZZ_CC      ?= clang-14
FUZZ_TIME    ?= 60
FUZZ_CI_TIME ?= 6
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(filter-out -O2,$(CFLAGS)) -O1 -Wno-unused-command-line-argument \
                -DTD_FUZZ $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_SRCS    := $(wildcard tests/fuzz/*_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS    := $(FUZZ_NAMES:%=build/fuzz/%)
FUZZ_LIB     := $(patsubst %.c,build/fuzzobj/%.o,$(filter-out lib/td_bus.c,$(LIB_SRCS)) $(FAKE_SRCS))

build/fuzzobj/%.o: %.c $(GEN_H) $(wildcard lib/*.h signaling/*.h router/*.h media/*.h tests/fakes/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

define fuzz_rule
FUZZ_$(1) := $$(patsubst %.c,build/fuzzobj/%.o,$$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c)) $$(SHARED_$(1)))
build/fuzz/$(1)_%: build/fuzzobj/tests/fuzz/$(1)_%.o $$(FUZZ_$(1)) $$(FUZZ_LIB)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(LDLIBS) $$(LDLIBS_$(1)) -lcmocka
endef
$(foreach p,$(PROGS),$(eval $(call fuzz_rule,$(p))))
.PRECIOUS: build/fuzzobj/%.o

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@bash tools/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_NAMES)

fuzz-ci: fuzz-build
	@FUZZ_SEED=1 bash tools/run-fuzz.sh $(FUZZ_CI_TIME) $(FUZZ_NAMES)

# Test tools in C (tests/tools/*.c): one binary each, for the integration
# tests. srtp_peer plays a phone's SRTP side (libsrtp2).
TOOL_BINS := $(patsubst tests/tools/%.c,build/tools/%,$(wildcard tests/tools/*.c))
build/tools/%: tests/tools/%.c media/sdp_crypto.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_media)

integration: $(BINS) $(TOOL_BINS)
	@bash tests/run-integration.sh

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# The integration suite against the three processes and tandemctl built with
# ASan/UBSan (linked from the unit tests' build/asan/ objects into
# build/asan-bin/; tests/lib.sh runs the binaries in TD_BIN). Not in `make
# test` (it takes about twice as long as the whole normal suite): run before
# a release. tools/test-asan.sh sets the sanitizers' options (reports to
# build/asan-logs/, leak check at a normal exit, tests/asan/lsan.supp) and
# fails if any report was written. ASAN_SCENARIOS="a b" runs only those.
ASAN_BIN := build/asan-bin
define asan_prog_rule
$(ASAN_BIN)/tandem-$(1): $$(patsubst %.c,build/asan/%.o,$$(wildcard $(1)/*.c) $$(SHARED_$(1))) $$(SAN_LIB)
	@mkdir -p $(ASAN_BIN)
	$$(CC) $$(CFLAGS) $$(SAN) -o $$@ $$^ $$(LDLIBS) $$(LDLIBS_$(1))
endef
$(foreach p,$(PROGS),$(eval $(call asan_prog_rule,$(p))))
$(ASAN_BIN)/tandemctl: $(patsubst %.c,build/asan/%.o,$(wildcard ctl/*.c)) $(SAN_LIB)
	@mkdir -p $(ASAN_BIN)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) $(LDLIBS_ctl)
ASAN_BINS := $(PROGS:%=$(ASAN_BIN)/tandem-%) $(ASAN_BIN)/tandemctl

test-asan: deps
	@$(MAKE) -j$(JOBS) --no-print-directory $(ASAN_BINS) $(TOOL_BINS)
	@bash tools/test-asan.sh $(ASAN_SCENARIOS)

test: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@$(MAKE) -j$(JOBS) --no-print-directory unit
	@$(MAKE) -j$(JOBS) --no-print-directory fuzz-ci
	@$(MAKE) --no-print-directory integration

# make test from a clean clone of HEAD in a fresh Debian bookworm root
# (debootstrap, cached in /var/cache/tandem); as root. See tools/test-fresh.sh.
test-fresh:
	@bash tools/test-fresh.sh

# Container images (root, Docker): tandem/debian:bookworm once, then
# tandem:latest from deploy/Dockerfile. See deploy/README.md.
images:
	@bash tools/images.sh

run: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@exec bash tools/run.sh $(CONF)

# The strict check of CONF (default etc): every warning and error of the
# router's config with file:line; fails if there is any. Starts nothing.
check: deps
	@$(MAKE) -j$(JOBS) --no-print-directory bin/tandem-router bin/tandem-signaling
	@rc=0; bin/tandem-signaling -c $(CONF) --check || rc=1; \
	 bin/tandem-router -c $(CONF) --check || rc=1; exit $$rc

bench: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@bash bench/calls.sh

# Relayed calls with RTP on 1, 2, 3 media workers: processes on 127.0.0.1,
# then containers (docker-compose --scale media=W; builds the images). Not in
# `make test`. bench/media_scale.sh [--containers] runs one mode.
bench-media: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@bash bench/media_scale.sh
	@bash tools/images.sh >/dev/null
	@bash bench/media_scale.sh --containers

# Calls moved off a media worker killed with SIGKILL (three rounds) and off
# one drained with SIGUSR1: the audio gap at each phone. Not in `make test`.
bench-failover: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@bash bench/failover.sh

# The CPU cost of a hold/resume pair: bridged calls with and without
# re-INVITEs (a=sendonly, a=sendrecv) through the three processes; per
# process, in microseconds. Not in `make test`.
bench-hold: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@bash bench/hold.sh

# Issue 10: call rate with 1 and 2 routers and 1 and 2 signaling nodes, and
# the shared store's cost (Redis commands, CPU, memory per registration and
# per call). Not in `make test`.
bench-cluster: deps
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@bash bench/cluster.sh

clean:
	rm -rf build bin
