#!/usr/bin/env bash
# `make bench`'s history figure: `image-digest-check history` over 1,000 commits of a Helm
# values file and a 50-document manifest, in a temporary repository written with
# `git fast-import` (each commit promotes the values to a new digest and re-pins one of the
# manifest's Deployments). Prints wall time and peak memory (GNU time when present).
#   CHECK  the checker binary (default: target/release/image-digest-check)
set -euo pipefail
CHECK=${CHECK:-${CARGO_TARGET_DIR:-target}/release/image-digest-check}
CHECK=$(realpath "$CHECK")
COMMITS=${COMMITS:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git init -q "$work/repo"
python3 - "$COMMITS" > "$work/stream" <<'PY'
import hashlib, sys
n = int(sys.argv[1])
def digest(s): return "sha256:" + hashlib.sha256(s.encode()).hexdigest()
def blob(text):
    data = text.encode()
    return f"data {len(data)}\n".encode() + data + b"\n"
out = sys.stdout.buffer
images = [f"registry.example.com/lab/app{i}:1.0@{digest(f'app{i}-0')}" for i in range(50)]
for c in range(n):
    images[c % 50] = f"registry.example.com/lab/app{c % 50}:1.{c}@{digest(f'app{c % 50}-{c}')}"
    values = (f"image:\n  repository: registry.example.com/lab/jangar\n  tag: \"1.{c}\"\n  digest: \"{digest(f'jangar-{c}')}\"\n"
              f"controlPlane:\n  image:\n    repository: registry.example.com/lab/jangar-control-plane\n    tag: \"1.{c}\"\n    digest: \"{digest(f'cp-{c}')}\"\n"
              "controllers:\n  enabled: true\n")
    docs = "---\n".join(
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{i}, namespace: prod}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {img}\n"
        for i, img in enumerate(images))
    msg = f"promote {c}".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(f"committer t <t@example.com> {1700000000 + c * 60} +0000\n".encode())
    out.write(f"data {len(msg)}\n".encode() + msg + b"\n")
    out.write(b"M 100644 inline values/prod.yaml\n" + blob(values))
    out.write(b"M 100644 inline deploy/apps.yaml\n" + blob(docs))
    out.write(b"\n")
PY
(cd "$work/repo" && git fast-import --quiet < "$work/stream" && git checkout -q main)
cd "$work/repo"
run() { "$CHECK" history deploy --values values/prod.yaml --output list > "$work/list"; }
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "history: $COMMITS commits, %e s wall, %M KB peak memory" "$CHECK" history deploy --values values/prod.yaml --output list > "$work/list"
else
  start=$(date +%s%N); run; end=$(date +%s%N)
  echo "history: $COMMITS commits, $(( (end - start) / 1000000 )) ms wall"
fi
echo "history: $(wc -l < "$work/list") distinct digests listed"
