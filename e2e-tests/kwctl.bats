#!/usr/bin/env bats
# The e2e table (cases.yaml) through kwctl, for users who have it:
#   make e2e-tests-kwctl        (POLICY=annotated-policy.wasm by default, else policy.wasm)
# Without kwctl this suite FAILS with a plain message: a suite that did not run is not a pass.

setup_file() {
  if ! command -v kwctl >/dev/null 2>&1; then
    echo "kwctl is not installed: the kwctl suite did NOT run (this is not a pass)." >&3
    echo "Install kwctl (https://github.com/kubewarden/kwctl/releases) or run 'make e2e-tests' for the wasmtime runner." >&3
    return 1
  fi
  export POLICY="${POLICY:-$BATS_TEST_DIRNAME/../annotated-policy.wasm}"
  [ -f "$POLICY" ] || POLICY="$BATS_TEST_DIRNAME/../policy.wasm"
  [ -f "$POLICY" ] || { echo "no policy module: run 'make policy.wasm'" >&3; return 1; }
  export CASES="$BATS_FILE_TMPDIR/cases.jsonl"
  (cd "$BATS_TEST_DIRNAME/.." && cargo run -q -p image-digest-runner --example cases-json) > "$CASES"
}

@test "every e2e case through kwctl run" {
  passed=0; failed=0; skipped=0
  while IFS= read -r case; do
    name=$(jq -r .name <<<"$case")
    if [ "$(jq -r .kwctl <<<"$case")" = "false" ]; then
      skipped=$((skipped + 1)); echo "# skipped (kwctl cannot express it): $name" >&3; continue
    fi
    args=(run --request-path "$(jq -r .request <<<"$case")" --settings-json "$(jq -c .settings <<<"$case")")
    replay=$(jq -r '.replay // empty' <<<"$case")
    [ -n "$replay" ] && args+=(--replay-host-capabilities-interactions "$replay")
    out=$(kwctl "${args[@]}" "$POLICY" 2>&1); status=$?
    ok=1
    if [ "$(jq -r .settings_valid <<<"$case")" = "false" ]; then
      [ $status -ne 0 ] || ok=0
      while IFS= read -r part; do [[ "$out" == *"$part"* ]] || ok=0; done < <(jq -r '.message[]' <<<"$case")
    else
      response=$(grep -E '^\{' <<<"$out" | tail -n 1)
      [ "$(jq -r .allowed <<<"$response")" = "$(jq -r .allowed <<<"$case")" ] || ok=0
      message=$(jq -r '.status.message // ""' <<<"$response")
      while IFS= read -r part; do [[ "$message" == *"$part"* ]] || ok=0; done < <(jq -r '.message[]' <<<"$case")
      [ "$(jq '.warnings // [] | length' <<<"$response")" = "$(jq '.warnings | length' <<<"$case")" ] || ok=0
    fi
    if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "# FAILED: $name: $out" >&3; fi
  done < "$CASES"
  echo "kwctl: $passed passed, $failed failed, $skipped skipped" >&3
  [ "$failed" -eq 0 ]
  [ "$passed" -gt 0 ]
}
