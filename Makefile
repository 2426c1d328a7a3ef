# amortd - one non-recursive Makefile.
#
#   make            build libamort, the amort tool, tests and benchmarks
#   make test       install missing Debian packages, build, run the unit tests
#   make run        install missing packages, build and start (the core demo
#                   until the daemon exists)
#   make bench      build and run the benchmarks
#   make models     retrain the shipped models from deploy/recipes
#   make asan       run the unit tests under AddressSanitizer + UBSan
#   make install    install under $(DESTDIR)$(PREFIX)
#
# WERROR=1 turns warnings into errors (CI sets it).

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
WERROR  ?=
SAN     ?=

PKG_BLAS := openblas
BLAS_CFLAGS := $(shell pkg-config --cflags $(PKG_BLAS) 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs $(PKG_BLAS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wvla
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) \
              $(if $(WERROR),-Werror) $(SAN) -MMD -MP -Icore
LDFLAGS ?=
ALL_LDFLAGS := $(LDFLAGS) $(SAN)

# ---- sources ---------------------------------------------------------------
CORE_SRC   := $(wildcard core/*.c)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
LIBAMORT   := $(BUILD)/libamort.a

TOOL_SRC   := $(wildcard core/tools/*.c)
AMORT      := $(BUILD)/amort

TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTUTIL   := $(BUILD)/tests/testutil.o

BENCH_SRC  := $(wildcard tests/bench_*.c)
BENCH_BIN  := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)

DEPS_OK    := $(BUILD)/.deps-ok

.PHONY: all test run bench models install uninstall asan clean deps
.DEFAULT_GOAL := all

all: $(DEPS_OK)
	@$(MAKE) --no-print-directory build-all

build-all: $(LIBAMORT) $(AMORT) $(TEST_BIN) $(BENCH_BIN)

# ---- system packages -------------------------------------------------------
# Checked once per build tree: the first build on a fresh machine installs
# what is missing (apt-get, as root or through sudo).
$(DEPS_OK): deploy/install-deps.sh
	@mkdir -p $(@D)
	@sh deploy/install-deps.sh
	@touch $@

deps: $(DEPS_OK)

# The pkg-config flags above are read when make starts; on a fresh machine
# the packages arrive later, so the targets re-enter make once they exist.
test: $(DEPS_OK)
	@$(MAKE) --no-print-directory test-run

run: $(DEPS_OK)
	@$(MAKE) --no-print-directory run-now

bench: $(DEPS_OK)
	@$(MAKE) --no-print-directory bench-run

asan: $(DEPS_OK)
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test-run

.PHONY: build-all test-run run-now bench-run
test-run: $(TEST_BIN) $(AMORT)
	@sh tests/run.sh $(TEST_BIN) "tests/cli.sh $(BUILD)"

run-now: $(AMORT)
	@mkdir -p var
	$(AMORT) demo -o var/demo.amort
	$(AMORT) info var/demo.amort

bench-run: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

# Retrains every shipped model from its recipe (resuming an interrupted
# run from its checkpoint), with the OpenBLAS kernel deploy/blas-coretype.sh
# picks for this CPU.
models: $(DEPS_OK)
	@$(MAKE) --no-print-directory $(AMORT)
	@ct=$$(sh deploy/blas-coretype.sh); \
	if [ -n "$$ct" ]; then export OPENBLAS_CORETYPE=$$ct; fi; \
	for r in deploy/recipes/*.recipe; do \
		[ -e "$$r" ] || { echo "models: no recipes in deploy/recipes"; break; }; \
		m=deploy/models/$$(basename $$r .recipe).amort; \
		echo "models: $$r -> $$m"; \
		$(AMORT) train $$r -o $$m --resume || exit 1; \
	done

# ---- build rules -----------------------------------------------------------
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(LIBAMORT): $(CORE_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/core/tools/%.o: core/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(JANSSON_CFLAGS) -c $< -o $@

$(AMORT): $(TOOL_SRC:%.c=$(BUILD)/%.o) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(JANSSON_LIBS) $(BLAS_LIBS) -lm

# Core tests link only libamort, OpenBLAS, cmocka and libm: that proves the
# boundary.
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TESTUTIL) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(BLAS_LIBS) -lm

$(BUILD)/tests/bench_%: $(BUILD)/tests/bench_%.o $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BLAS_LIBS) -lm

# ---- install ---------------------------------------------------------------
install: $(DEPS_OK)
	@$(MAKE) --no-print-directory $(AMORT)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(AMORT) $(DESTDIR)$(PREFIX)/bin/amort

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/amort

clean:
	rm -rf build

-include $(patsubst %.o,%.d,$(CORE_OBJ) $(TOOL_SRC:%.c=$(BUILD)/%.o) \
	$(TEST_SRC:%.c=$(BUILD)/%.o) $(BENCH_SRC:%.c=$(BUILD)/%.o) $(TESTUTIL))
