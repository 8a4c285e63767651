#!/usr/bin/env bash
# The GitHub Action's step (action.yml): runs image-digest-check from the npm package (no Rust
# on the runner), prints the report in INPUT_OUTPUT (annotations by default), writes SARIF to
# INPUT_SARIF_FILE for upload-sarif, records both in $GITHUB_OUTPUT, and exits with the
# checker's code (0 accepted, 1 rejected, 2 not checked).
# IMAGE_DIGEST_CHECK overrides the command (the tests run the package built by `make web`).
set -uo pipefail

read -r -a paths <<< "${INPUT_PATHS:?the paths input is required}"
cmd=(${IMAGE_DIGEST_CHECK:-npx --yes "image-digest-check@${INPUT_VERSION:-latest}"})
args=()
[ "${INPUT_VALUES:-false}" = "true" ] && args+=(values)
[ -n "${INPUT_SETTINGS:-}" ] && args+=(--settings "$INPUT_SETTINGS")
[ -n "${INPUT_NAMESPACE:-}" ] && args+=(--namespace "$INPUT_NAMESPACE")
output="${INPUT_OUTPUT:-github}"
sarif="${INPUT_SARIF_FILE-image-digest-check.sarif}"

"${cmd[@]}" "${args[@]}" --output "$output" "${paths[@]}"
code=$?
if [ -n "$sarif" ]; then
  "${cmd[@]}" "${args[@]}" --output sarif "${paths[@]}" > "$sarif"
  sarif_code=$?
  # Both runs read the same files: a different verdict means something changed under us.
  if [ "$sarif_code" -ne "$code" ]; then
    echo "::error::the SARIF run ended with $sarif_code, the report run with $code"
    code=2
  fi
  echo "sarif-file=$sarif" >> "${GITHUB_OUTPUT:-/dev/null}"
fi
echo "exit-code=$code" >> "${GITHUB_OUTPUT:-/dev/null}"
exit "$code"
