#!/usr/bin/env bash
# A suite that already passed on exactly this tree need not run again: the no-op rerun of
# `make test` skips it and says so. "Exactly this tree" is everything that could change a
# result: the commit, every uncommitted change, every untracked file, and the built artefacts
# named on the command line (binaries, the wasm, the web build). Anything else differing, or
# CI, or FORCE_TESTS=1: the suite runs.
#   unchanged.sh check  NAME ARTEFACT…   exit 0 when NAME passed on this very tree
#   unchanged.sh record NAME ARTEFACT…   remember that NAME passed on this tree
set -euo pipefail
mode=$1 name=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
stamp="${IMAGE_DIGEST_TARGET_DIR:-$root/target}/stamps/$name"
fingerprint() {
  cd "$root"
  {
    git rev-parse HEAD 2>/dev/null || echo no-git
    git diff HEAD --binary 2>/dev/null
    git ls-files -o --exclude-standard -z 2>/dev/null | sort -z | xargs -0 -r sha256sum
    for a in "$@"; do
      if [ -d "$a" ]; then find "$a" -type f -print0 | sort -z | xargs -0 -r sha256sum
      elif [ -e "$a" ]; then sha256sum "$a"
      else echo "missing $a"; fi
    done
    for tool in bats jq node chromium python3 rustc cargo git skopeo; do "$tool" --version 2>/dev/null | head -n 1 || true; done
    cargo nextest --version 2>/dev/null | head -n 1 || true
    command -v docker-registry 2>/dev/null | xargs -r sha256sum || true
  } | sha256sum | cut -d' ' -f1
}
case $mode in
  check)
    [ "${CI:-}" != true ] && [ -z "${FORCE_TESTS:-}" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(fingerprint "$@")" ]
    ;;
  record)
    mkdir -p "$(dirname "$stamp")"
    fingerprint "$@" > "$stamp"
    ;;
  *) echo "usage: unchanged.sh check|record NAME ARTEFACT…" >&2; exit 2 ;;
esac
