# Front door. `make test` and `make demo` install missing Debian packages (as root),
# configure, build and run. See README.md.
JOBS ?= $(shell nproc)
TEST_DIR := build/test
REL_DIR  := build/release

.PHONY: all test demo deps-build deps-test build release bench format clean fuzz soak

all: release

deps-build:
	@scripts/install-deps.sh build
deps-test:
	@scripts/install-deps.sh test

# Release build: what the demo and the benchmarks run.
release: deps-build
	cmake -S . -B $(REL_DIR) -DCMAKE_BUILD_TYPE=Release -DLP2P_WERROR=ON >/dev/null
	cmake --build $(REL_DIR) -j $(JOBS)

# Test build: clang with ASan+UBSan, fuzz targets, every test through CTest.
build: deps-test
	CC=clang cmake -S . -B $(TEST_DIR) -DCMAKE_BUILD_TYPE=Debug -DLP2P_SANITIZE=ON \
	  -DLP2P_FUZZ=ON >/dev/null
	cmake --build $(TEST_DIR) -j $(JOBS)

test: build
	cd $(TEST_DIR) && ctest --output-on-failure -j $(JOBS)

# Every fuzz target for FUZZ_SECONDS (default 300) each; new inputs grow fuzz/corpus/.
fuzz: build
	bash fuzz/grow.sh $(TEST_DIR)

# SOAK_MINUTES (default 30) of a relay under churn, RSS and fds sampled every minute into
# bench/results/soak-*.tsv; fails unless they are flat after warm-up. Not part of `make test`.
soak: release
	bash bench/soak.sh $(REL_DIR)

demo: deps-test release
	bash scripts/demo.sh $(REL_DIR)

bench: release
	bash bench/run.sh $(REL_DIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# ---- ops: install and the Debian package ----------------------------------------------
# `make install PREFIX=/usr/local DESTDIR=/tmp/stage`: the release binary, systemd units,
# example configs and docs. `make deb`: build/release/kaspa-holepunch_<ver>_<arch>.deb
# (CPack's DEB generator; see CMakeLists.txt). Neither installs the package on this machine.
PREFIX ?= /usr/local
.PHONY: install deb package
install: release
	DESTDIR=$(DESTDIR) cmake --install $(REL_DIR) --prefix $(PREFIX)
deb: release
	cd $(REL_DIR) && cpack -G DEB
package: deb
