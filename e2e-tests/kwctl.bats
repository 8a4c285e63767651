#!/usr/bin/env bats
# The e2e and adversarial tables through kwctl, for users who have it:
#   make e2e-tests-kwctl        (POLICY=annotated-policy.wasm by default, else policy.wasm)
# Without kwctl this suite FAILS with a plain message: a suite that did not run is not a pass.
# `make test` runs it with e2e-tests/kwctl-stand-in/kwctl on PATH, so its logic is checked in
# CI too. CASES may name a ready table (one JSON case per line); else it is printed by the
# runner's cases-json example.

setup_file() {
  if ! command -v kwctl >/dev/null 2>&1; then
    echo "kwctl is not installed: the kwctl suite did NOT run (this is not a pass)." >&3
    echo "Install kwctl (https://github.com/kubewarden/kwctl/releases) or run 'make e2e-tests' for the wasmtime runner." >&3
    return 1
  fi
  export POLICY="${POLICY:-$BATS_TEST_DIRNAME/../annotated-policy.wasm}"
  [ -f "$POLICY" ] || POLICY="$BATS_TEST_DIRNAME/../policy.wasm"
  [ -f "$POLICY" ] || { echo "no policy module: run 'make policy.wasm'" >&3; return 1; }
  if [ -z "${CASES:-}" ]; then
    export CASES="$BATS_FILE_TMPDIR/cases.jsonl"
    (cd "$BATS_TEST_DIRNAME/.." && cargo run -q -p image-digest-runner --example cases-json) > "$CASES"
  fi
  [ -s "$CASES" ] || { echo "no cases in $CASES" >&3; return 1; }
}

# Every part of the case's expected message must be in $1.
has_parts() {
  local part
  while IFS= read -r part; do
    [[ "$1" == *"$part"* ]] || { echo "lacks: $part"; return 1; }
  done < <(jq -r '.message[]' <<<"$case")
}

# The response on the last JSON line of $1 against the case: verdict, message, warnings, patch.
check_response() {
  local response message want got i
  response=$(grep -E '^\{' <<<"$1" | tail -n 1)
  [ -n "$response" ] || { echo "no JSON response"; return 1; }
  [ "$(jq -r .allowed <<<"$response")" = "$(jq -r .allowed <<<"$case")" ] || { echo "allowed differs"; return 1; }
  message=$(jq -r '.status.message // ""' <<<"$response")
  has_parts "$message" || return 1
  [ "$(jq '.warnings // [] | length' <<<"$response")" = "$(jq '.warnings | length' <<<"$case")" ] || { echo "warning count differs"; return 1; }
  for i in $(seq 0 $(( $(jq '.warnings | length' <<<"$case") - 1 ))); do
    want=$(jq -r ".warnings[$i]" <<<"$case")
    got=$(jq -r ".warnings[$i]" <<<"$response")
    [[ "$got" == *"$want"* ]] || { echo "warning $i lacks: $want"; return 1; }
  done
  want=$(jq -cS '.patch' <<<"$case")
  if [ "$(jq -r '.patch // empty' <<<"$response")" = "" ]; then
    got=null
  else
    got=$(jq -r '.patch' <<<"$response" | base64 -d | jq -cS .) || { echo "patch is not base64 JSON"; return 1; }
  fi
  [ "$got" = "$want" ] || { echo "patch $got, expected $want"; return 1; }
}

@test "every e2e and adversarial case through kwctl run" {
  passed=0; failed=0; skipped=0
  while IFS= read -r case; do
    name=$(jq -r .name <<<"$case")
    if [ "$(jq -r .kwctl <<<"$case")" = "false" ]; then
      skipped=$((skipped + 1)); echo "# skipped (kwctl cannot express it): $name" >&3; continue
    fi
    args=(run --request-path "$(jq -r .request <<<"$case")" --settings-json "$(jq -c .settings <<<"$case")")
    replay=$(jq -r '.replay // empty' <<<"$case")
    [ -z "$replay" ] || args+=(--replay-host-capabilities-interactions "$replay")
    status=0
    out=$(kwctl "${args[@]}" "$POLICY" 2>&1) || status=$?
    if [ "$(jq -r .settings_valid <<<"$case")" = "false" ]; then
      if [ "$status" -eq 0 ]; then why="invalid settings were accepted"; else why=$(has_parts "$out") && why=""; fi
    elif [ "$status" -ne 0 ]; then
      why="kwctl exited $status"
    else
      why=$(check_response "$out") && why=""
    fi
    if [ -z "$why" ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1)); echo "# FAILED: $name: $why: $out" >&3
    fi
  done < "$CASES"
  echo "kwctl: $passed passed, $failed failed, $skipped skipped" >&3
  [ "$failed" -eq 0 ]
  [ "$passed" -gt 0 ]
}
