# image-digest-policy: build, test and package targets (Kubewarden policy conventions).
SOURCE_FILES := $(shell find src -type f -name '*.rs') Cargo.toml Cargo.lock build.rs
WASM_TARGET := wasm32-wasip1
# Cargo's output directory: CARGO_TARGET_DIR when the user sets it (a shared cache, a
# RAM disk), else target/. Nothing below names target/ itself.
TARGET := $(or $(CARGO_TARGET_DIR),target)
export IMAGE_DIGEST_TARGET_DIR := $(abspath $(TARGET))
BUILT_WASM := $(TARGET)/$(WASM_TARGET)/wasm/image_digest_policy.wasm
# The native tools come out of the one test build (`tools` below): the same features as the
# tests, so nothing is compiled twice.
CHECK := $(TARGET)/debug/image-digest-check
# The checker embeds this module (crates/check/build.rs) instead of building its own copy.
export IMAGE_DIGEST_POLICY_WASM := $(CURDIR)/policy.wasm
ARTIFACT := $(TARGET)/debug/image-digest-artifact

# Lints ride on the builds: cargo hands the workspace's own crates to clippy-driver (as
# `cargo clippy` does), which lints them with -D warnings while it compiles them, and the
# dependencies are compiled once, by rustc. A separate `cargo clippy` pass type-checked every
# dependency a second time (wasmtime, cranelift, the registry stack: 185 s of a 615 s cold run,
# and 61 s more for the wasm target; BENCHMARKS.md "Build"). Every cargo command below runs with
# these, so the test build, the nextest run and the wasm builds share one set of artefacts.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
export RUSTC_WORKSPACE_WRAPPER := $(CLIPPY_DRIVER)
export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings

.PHONY: all
all: policy.wasm

# Installs the wasm target when missing, so a fresh machine builds with one command.
.PHONY: wasm-target
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

policy.wasm: $(SOURCE_FILES) | wasm-target
	cargo build --target $(WASM_TARGET) --profile wasm --lib
	cp $(BUILT_WASM) policy.wasm

# Every test executable and every native tool, in one cargo invocation with one feature set.
# nextest's own build then finds all of it fresh.
.PHONY: tools
tools: policy.wasm
	cargo test --workspace --no-run -q

# policy.wasm with the Kubewarden metadata embedded, as `kwctl annotate` makes it.
annotated-policy.wasm: policy.wasm metadata.yml README.md | tools
	$(ARTIFACT) annotate --metadata metadata.yml --readme README.md -o annotated-policy.wasm policy.wasm

# The OCI artifact as a standard OCI image layout (push it with skopeo or kwctl).
.PHONY: oci-layout
oci-layout: annotated-policy.wasm
	$(ARTIFACT) layout --metadata metadata.yml -o build/oci-layout annotated-policy.wasm

# Push the layout: make push REGISTRY=ghcr.io/<org> (skopeo; `kwctl push` works as well).
.PHONY: push
push: oci-layout
	skopeo copy oci:build/oci-layout:v$(VERSION) docker://$(REGISTRY)/image-digest-policy:v$(VERSION)

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

.PHONY: artifacthub-pkg.yml
artifacthub-pkg.yml: | tools
	$(ARTIFACT) artifacthub --metadata metadata.yml --questions questions-ui.yml -o artifacthub-pkg.yml \
		$$(test -f artifacthub-pkg.yml || echo --created-at $$(date -u +%Y-%m-%dT%H:%M:%SZ))

.PHONY: fmt
fmt:
	cargo fmt --all

# The distinct crates (name and version) compiled for the workspace, ours excepted: natively, for
# the policy's wasm and for the web build. It may not grow past build-budget.txt's ceiling.
.PHONY: build-budget
build-budget: $(TARGET)/build-budget.ok

# Counted again only when a manifest, the lock file or the budget changed.
$(TARGET)/build-budget.ok: Cargo.lock Cargo.toml $(wildcard crates/*/Cargo.toml) build-budget.txt
	@n=$$( { cargo tree --workspace -e normal,build,dev --prefix none --format '{p}' --target x86_64-unknown-linux-gnu; \
		cargo tree -p image-digest-policy -p floor-policy -e normal,build --prefix none --format '{p}' --target $(WASM_TARGET); \
		cargo tree -p image-digest-web -e normal,build --prefix none --format '{p}' --target wasm32-unknown-unknown; } \
		| sed 's/ (\*)//; s/ (proc-macro)//' | grep -v '^image-digest\|^floor-policy' | awk '{print $$1" "$$2}' | sort -u | wc -l ); \
	max=$$(sed -n 's/^ceiling: //p' build-budget.txt); \
	echo "build budget: $$n crates compiled for the workspace (ceiling $$max, build-budget.txt)"; \
	test "$$n" -le "$$max" || { echo "the build grew past its budget: name the new dependency and its build cost, then raise the ceiling in build-budget.txt"; exit 1; }
	@mkdir -p $(TARGET) && touch $@

# rustfmt, the build budget, then clippy through the builds (above): the policy and the floor for
# the wasm target, every native crate's lib, bins, tests and examples in the test build.
.PHONY: lint
lint: policy.wasm build-budget | wasm-target
	@test -n "$(CLIPPY_DRIVER)" || { echo "clippy-driver is missing: rustup component add clippy"; exit 1; }
	cargo fmt --all -- --check
	cargo build --target $(WASM_TARGET) --profile wasm -p floor-policy
	$(MAKE) --no-print-directory tools

# Native unit tests, the e2e table on the wasm and the native core, and the checker's tests.
# nextest closes with one summary line for the whole workspace; plain cargo test otherwise.
.PHONY: unit-tests
# Like the web suites, a no-op rerun does not run them again on a tree and build they already
# passed on (e2e-tests/unchanged.sh: the commit, every change, every untracked file, the
# toolchain and services, these artefacts); CI and FORCE_TESTS=1 always run them.
UNIT_TEST_INPUTS := policy.wasm annotated-policy.wasm $(TARGET)/debug/image-digest-check Cargo.lock
unit-tests: policy.wasm annotated-policy.wasm | tools
	@if bash e2e-tests/unchanged.sh check unit-tests $(UNIT_TEST_INPUTS); then \
		echo "rust tests: not run again: they passed on this very tree and build (FORCE_TESTS=1 runs them)"; \
	elif cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --no-fail-fast && \
		bash e2e-tests/unchanged.sh record unit-tests $(UNIT_TEST_INPUTS); \
	else \
		cargo test --workspace --no-fail-fast && \
		bash e2e-tests/unchanged.sh record unit-tests $(UNIT_TEST_INPUTS); \
	fi

# The e2e table against the built policy.wasm through the wasmtime runner (never skipped).
.PHONY: e2e-tests
e2e-tests: policy.wasm
	cargo test -p image-digest-testkit --test suite e2e -- --nocapture

# The same table through kwctl, for those who have it; fails plainly when kwctl is missing.
.PHONY: e2e-tests-kwctl
e2e-tests-kwctl: annotated-policy.wasm
	bats --tap e2e-tests/kwctl.bats

# The web build: the core and the checker's shared half for browsers and Node (wasm-bindgen),
# the playground page and the npm package, in $(WEB_DIR). Installs the wasm target and
# wasm-bindgen-cli at exactly the version Cargo.lock pins for the wasm-bindgen crate.
WEB_DIR := build/web
WEB_WASM := $(TARGET)/wasm32-unknown-unknown/web/image_digest_web.wasm
BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
# No wasm-opt pass: Debian's binaryen (108) breaks wasm-bindgen's externref table (the module
# then fails to load), and it saved only 10%. The name and producers sections are dropped instead.
BINDGEN_FLAGS := --remove-name-section --remove-producers-section

.PHONY: web-tools
web-tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $(BINDGEN_VERSION)" || \
		env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo install wasm-bindgen-cli --version $(BINDGEN_VERSION)
	@command -v node >/dev/null || { echo "node is missing: Node.js 18 or later builds and tests the web package"; exit 1; }

.PHONY: web
web: web-tools
	cargo build -p image-digest-web --target wasm32-unknown-unknown --profile web
	@$(MAKE) --no-print-directory $(WEB_DIR)/.built

# The bindings and the package are made again only when the module or the package's own files
# changed (cargo leaves an unchanged module's time alone).
$(WEB_DIR)/.built: $(WEB_WASM) web/build.mjs $(shell find web/npm web/playground -type f) Cargo.toml
	rm -rf $(WEB_DIR)
	wasm-bindgen $(BINDGEN_FLAGS) --target web --out-dir $(WEB_DIR)/playground/pkg $(WEB_WASM)
	wasm-bindgen $(BINDGEN_FLAGS) --target nodejs --out-dir $(WEB_DIR)/npm/lib $(WEB_WASM)
	node web/build.mjs $(WEB_DIR) $(VERSION)
	touch $@

# Serves the playground on http://127.0.0.1:8080/ (any static file server does).
.PHONY: playground
playground: web
	@echo "open http://127.0.0.1:8080/"
	python3 -m http.server 8080 --bind 127.0.0.1 --directory $(WEB_DIR)/playground

# The web build's tests (node --test): the e2e table and the image corpus through the package
# against the native core and policy.wasm, the npx command against the native checker, and the
# playground in real headless Chromium.
# A no-op rerun does not run them again on a tree and build they already passed on
# (e2e-tests/unchanged.sh: the commit, every change, every untracked file, these artefacts);
# CI and FORCE_TESTS=1 always run them.
WEB_TEST_INPUTS := $(WEB_DIR) policy.wasm $(TARGET)/debug/image-digest-check $(TARGET)/debug/examples/web-table
.PHONY: web-tests
web-tests: web policy.wasm | tools
	@if bash e2e-tests/unchanged.sh check web-tests $(WEB_TEST_INPUTS); then \
		echo "web tests: not run again: they passed on this very tree and build (FORCE_TESTS=1 runs them)"; \
	else \
		$(TARGET)/debug/examples/web-table > $(TARGET)/web-table.json && \
		node web/test/run.mjs && \
		bash e2e-tests/unchanged.sh record web-tests $(WEB_TEST_INPUTS); \
	fi

.PHONY: test
test: lint unit-tests web-tests

# The run command: builds what is needed and checks the bundled chart render and its
# drifted copy with the example settings, printing the reports.
.PHONY: demo
demo: policy.wasm | tools
	@echo "== prod settings, the chart render as GitOps pins it (expect: accepted)"
	$(CHECK) --policy policy.wasm --settings examples/settings/prod.yaml examples/agents-render.yaml
	@echo "== non-prod settings, the drifted copy (expect: latest rejected, the unpinned tag warned)"
	$(CHECK) --policy policy.wasm --settings examples/settings/non-prod.yaml examples/agents-render-drifted.yaml; test $$? -eq 1
	@echo "== prod settings, the drifted copy (expect: both rejected)"
	$(CHECK) --policy policy.wasm --settings examples/settings/prod.yaml examples/agents-render-drifted.yaml; test $$? -eq 1

# Benchmarks: the policy next to the floor in one run, module sizes, checker throughput,
# then the native core under criterion. Figures are printed, never asserted.
.PHONY: bench
bench: policy.wasm annotated-policy.wasm
	cargo build --target $(WASM_TARGET) --profile wasm -p floor-policy
	cargo build --release -p image-digest-check -p image-digest-bench
	$(TARGET)/release/image-digest-bench
	bash crates/bench/scripts/history.sh
	cargo bench -p image-digest-bench --bench core -- --noplot

# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the reference parser, settings
# validation and the whole validate entry, each for FUZZ_SECONDS, from the committed seeds in
# fuzz/corpus/. cargo fuzz wants nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# take them. Crashes land in fuzz/artifacts/: add each to the corpus as a regression case.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	cargo fuzz --version >/dev/null 2>&1 || env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo install cargo-fuzz --locked
	cd fuzz && for t in reference settings validate; do \
		env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $$t corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -max_len=65536 || exit 1; \
	done

.PHONY: clean
clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
