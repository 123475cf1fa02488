# rdna1-vmfix: one entry point. `make help` lists the targets.
# The kernel module has its own kbuild Makefile in kernel/; DKMS builds from there.

VERSION := $(shell cat VERSION)
BUILD ?= build
KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build

.PHONY: help all deps build userspace module test test-unit demo bench install uninstall \
	matrix qemu-test patches-check deb lint tidy clean fuzz

help:
	@echo "rdna1-vmfix $(VERSION)"
	@echo "  make deps        install build/test dependencies (Debian/Ubuntu archive; root)"
	@echo "  make build       build the rdna1-vmfix command (and the module if headers exist)"
	@echo "  make demo        boot a real Debian kernel in QEMU, load the real amdgpu.ko and"
	@echo "                   rdna1_vmfix, and show the policy at work (no AMD GPU needed)"
	@echo "  make test        run every test suite; last line: N passed, N failed, N skipped"
	@echo "  make test-unit   unit tests only (fast)"
	@echo "  make install     build and install the module with DKMS for KVER (default: running)"
	@echo "  make uninstall   remove the module from every kernel, restore stock behaviour"
	@echo "  make matrix      build the module against every kernel of the matrix"
	@echo "  make bench       run the benchmarks and print the figures"
	@echo "  make fuzz        fuzzing campaign: every libFuzzer target up to 10M runs (FUZZ_RUNS, FUZZ_SECONDS)"
	@echo "  make deb         build the Debian packages"
	@echo "  make tidy        clang-tidy over userspace/, tests/unit/, bench/ (.clang-tidy); fails on any warning"

all: build

deps:
	scripts/setup.sh

build: userspace
	@if [ -d "$(KDIR)" ]; then $(MAKE) module; else echo "no headers at $(KDIR): module not built"; fi

userspace:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	ninja -C $(BUILD)

module:
	$(MAKE) -C kernel KDIR=$(KDIR)

test:
	tests/run.sh

test-unit:
	tests/run.sh unit

demo:
	scripts/demo.sh

bench:
	bench/run.sh

fuzz:
	bench/fuzz.sh

install:
	scripts/dkms.sh install --kernel $(KVER)

uninstall:
	scripts/dkms.sh uninstall

matrix:
	scripts/kernel-matrix.sh

qemu-test:
	tests/run.sh qemu

patches-check:
	tests/run.sh patches

deb:
	scripts/build-deb.sh

lint:
	shellcheck -x scripts/*.sh scripts/lib/*.sh tests/run.sh tests/suites/*.sh tests/lib/*.sh tests/fuzz/*.sh bench/*.sh .ci/run

tidy:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	scripts/tidy.sh --build $(BUILD)

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C kernel clean
