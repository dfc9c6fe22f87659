# Two commands on a fresh Debian 12 machine with the Rust toolchain:
#   make serve   set up, build, and run the server with config/default.toml
#   make test    set up, build, and run the whole test suite
#
# Everything builds with the release profile, so RocksDB's C++ is compiled once for run,
# test and bench. The target directory lives outside the clone so CI reuses it.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/chainstore/target
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup lazyfs contract-tools serve test bench lint soak

setup:
	@if ! dpkg -s libclang-dev >/dev/null 2>&1; then \
		echo "installing libclang (RocksDB's binding needs it)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev clang; \
	fi

# LazyFS (power cuts for the tests) from ../shared, where CI and the workplace lay it.
lazyfs:
	@if [ -f ../shared/lazyfs/build.sh ]; then sh ../shared/lazyfs/build.sh; \
	else echo "no ../shared/lazyfs: the power-cut tests will be skipped"; fi

# --examples, as `make test` builds: cargo resolves dependencies' features with the
# dev-dependencies then, so serve, test and bench share one build (a plain `--bins` or
# `cargo run` would compile the dependencies and the crate again, 10+ minutes).
serve: setup
	$(CARGO) build --release --workspace --bins --examples
	$(CARGO_TARGET_DIR)/release/chainstore --config config/default.toml

# The contract tests' Python tools: Schemathesis, the OpenAPI fuzzer
# (tests/it/fuzz_contract.rs), and openapi-python-client, whose generated client walks a
# counter's day (tests/it/generated_client.rs).
CONTRACT_TOOLS := schemathesis==4.32.5 openapi-python-client==0.29.1
contract-tools:
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore $(CONTRACT_TOOLS)

test: setup lazyfs contract-tools
	$(CARGO) fmt --all -- --check
	# --examples: the power-cut test's control server (examples/unsynced_server), which
	# `cargo test` only builds as a test harness.
	$(CARGO) build --release --workspace --bins --examples
	$(CARGO) test --release --workspace --all-targets
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

bench: setup
	$(CARGO) bench --workspace --bench hot_paths

# The randomized workload with SIGKILLs for SECS seconds (default 300): make soak SECS=3600
soak: setup
	CHAINSTORE_SOAK_SECS=$(or $(SECS),300) $(CARGO) test --release --test it workload::soak -- --ignored --nocapture
