#!/usr/bin/env bats
# The e2e and adversarial tables through kwctl, for users who have it:
#   make e2e-tests-kwctl        (POLICY=annotated-policy.wasm by default, else policy.wasm)
# Without kwctl this suite FAILS with a plain message: a suite that did not run is not a pass.
# `make test` runs it with e2e-tests/kwctl-stand-in/kwctl on PATH, so its logic is checked in
# CI too. CASES may name a ready table (one JSON case per line); else it is printed by the
# test kit's cases-json example.

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
    (cd "$BATS_TEST_DIRNAME/.." && cargo run -q -p image-digest-testkit --example cases-json) > "$CASES"
  fi
  [ -s "$CASES" ] || { echo "no cases in $CASES" >&3; return 1; }
}

# The problems with kwctl's answer $1 (its last JSON line) against the case, one per line;
# nothing when it meets the case: verdict, message parts, warnings, and the JSONPatch, which
# kwctl sends base64-encoded (decoded here with jq's @base64d, as Kubewarden's own suites do).
problems() {
  local response
  response=$(grep -E '^\{' <<<"$1" | tail -n 1)
  [ -n "$response" ] || { echo "no JSON response"; return; }
  jq -rn --argjson c "$case" --argjson r "$response" '
    ($r.status.message // "") as $m | ($r.warnings // []) as $w |
    (if $r.allowed != $c.allowed then "allowed is \($r.allowed), expected \($c.allowed)" else empty end),
    ($c.message[] | select(. as $p | $m | contains($p) | not) | "message lacks: \(.)"),
    (if ($w | length) != ($c.warnings | length)
       then "\($w | length) warnings, expected \($c.warnings | length)"
       else ($c.warnings | to_entries[] | select(.value as $p | $w[.key] | contains($p) | not)
             | "warning \(.key) lacks: \(.value)") end),
    ($c.absent[] | select(. as $p | ($m | contains($p)) or any($w[]; contains($p))) | "must not appear: \(.)"),
    (($r.patch // null | if . == null then null else @base64d | fromjson end) as $p
      | if $p != $c.patch then "patch \($p | tojson), expected \($c.patch | tojson)" else empty end)'
}

# The parts of the case's expected message that $1 lacks.
missing_parts() {
  jq -rn --argjson c "$case" --arg out "$1" '$c.message[] | select(. as $p | $out | contains($p) | not) | "lacks: \(.)"'
}

@test "every e2e and adversarial case through kwctl run" {
  passed=0; failed=0; skipped=0
  while IFS= read -r case; do
    eval "$(jq -r '@sh "name=\(.name) request=\(.request) settings=\(.settings | tojson) settings_valid=\(.settings_valid) kwctl_ok=\(.kwctl) refuses=\(.kwctl_refuses // "") replay=\(.replay // "")"' <<<"$case")"
    if [ "$kwctl_ok" = "false" ]; then
      skipped=$((skipped + 1)); echo "# skipped: $name: $refuses" >&3; continue
    fi
    args=(run --request-path "$request" --settings-json "$settings")
    [ -z "$replay" ] || args+=(--replay-host-capabilities-interactions "$replay")
    status=0
    out=$(kwctl "${args[@]}" "$POLICY" 2>&1) || status=$?
    if [ "$settings_valid" = "false" ]; then
      if [ "$status" -eq 0 ]; then why="invalid settings were accepted"; else why=$(missing_parts "$out"); fi
    elif [ "$status" -ne 0 ]; then
      why="kwctl exited $status"
    else
      why=$(problems "$out")
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

# kwctl's own behaviour, which the stand-in must copy so that CI can never be greener than a
# run with the real kwctl (issue 26). These hold for kwctl 1.35 and for the stand-in alike.
requests="$BATS_TEST_DIRNAME/requests"
fidelity="$BATS_TEST_DIRNAME/kwctl-stand-in/fidelity"

@test "kwctl replays a session strictly in order: a lookup out of order is its replay error" {
  status=0
  out=$(kwctl run --request-path "$requests/agents-controllers.json" --settings-json '{"verifyTagDigest":"reject"}' \
    --replay-host-capabilities-interactions "$fidelity/registry-down-both.yml" "$POLICY" 2>&1) || status=$?
  [ "$status" -eq 0 ] || { echo "kwctl exited $status: $out" >&3; return 1; }
  grep -qF 'Replay error: unexpected request. Was expecting OciManifestDigest { image: \"nginx:1.27\" }' <<<"$out" ||
    grep -qF 'Replay error: unexpected request. Was expecting OciManifestDigest { image: "nginx:1.27" }' <<<"$out" ||
    { echo "no replay error: $out" >&3; return 1; }
}

@test "kwctl reports recorded exchanges left over" {
  status=0
  out=$(kwctl run --request-path "$requests/pod-unpinned.json" --settings-json '{"pinDigests":true}' \
    --replay-host-capabilities-interactions "$BATS_TEST_DIRNAME/sessions/pin-shared.yml" "$POLICY" 2>&1) || status=$?
  [ "$status" -eq 0 ] || { echo "kwctl exited $status: $out" >&3; return 1; }
  grep -qF 'Some of the recorded exchanges have not been replayed' <<<"$out" || { echo "no leftover warning: $out" >&3; return 1; }
}

@test "kwctl refuses a request nested 128 deep before the policy runs" {
  status=0
  out=$(kwctl run --request-path "$BATS_TEST_DIRNAME/adversarial/requests/nesting-past-the-parser-limit.json" \
    --settings-json '{}' "$POLICY" 2>&1) || status=$?
  [ "$status" -ne 0 ] || { echo "kwctl accepted it: $out" >&3; return 1; }
  grep -qF 'recursion limit exceeded at line 1 column 596' <<<"$out" || { echo "$out" >&3; return 1; }
}

@test "kwctl refuses a request without userInfo or operation" {
  for field in userInfo operation; do
    jq "del(.$field)" "$requests/pod-pinned.json" > "$BATS_TEST_TMPDIR/no-$field.json"
    status=0
    out=$(kwctl run --request-path "$BATS_TEST_TMPDIR/no-$field.json" --settings-json '{}' "$POLICY" 2>&1) || status=$?
    [ "$status" -ne 0 ] || { echo "kwctl accepted a request without $field: $out" >&3; return 1; }
    grep -qF "missing field \`$field\`" <<<"$out" || { echo "$out" >&3; return 1; }
  done
}
