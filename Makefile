# Two commands on a fresh Debian 12 machine with the Rust toolchain:
#   make serve   set up, build, and run the server with config/default.toml
#   make test    set up, build, and run the whole test suite
#
# Everything builds with the release profile, so RocksDB's C++ is compiled once for run,
# test and bench. The target directory lives outside the clone so CI reuses it.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/chainstore/target
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup serve test bench lint

setup:
	@if ! dpkg -s libclang-dev >/dev/null 2>&1; then \
		echo "installing libclang (RocksDB's binding needs it)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev clang; \
	fi

serve: setup
	$(CARGO) run --release --bin chainstore -- --config config/default.toml

test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) test --release --workspace --all-targets
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

bench: setup
	$(CARGO) bench --workspace --bench hot_paths
