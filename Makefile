# image-digest-policy: build, test and package targets (Kubewarden policy conventions).
SOURCE_FILES := $(shell find src -type f -name '*.rs') Cargo.toml Cargo.lock
WASM_TARGET := wasm32-wasip1
BUILT_WASM := target/$(WASM_TARGET)/release/image_digest_policy.wasm

.PHONY: all
all: policy.wasm

# Installs the wasm target when missing, so a fresh machine builds with one command.
.PHONY: wasm-target
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

policy.wasm: $(SOURCE_FILES) | wasm-target
	cargo build --target $(WASM_TARGET) --release --lib
	cp $(BUILT_WASM) policy.wasm

.PHONY: fmt
fmt:
	cargo fmt --all

.PHONY: lint
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: unit-tests
unit-tests:
	cargo test --workspace

.PHONY: test
test: lint unit-tests policy.wasm

.PHONY: clean
clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
