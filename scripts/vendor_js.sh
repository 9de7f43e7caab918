#!/usr/bin/env bash
# Fetch the vendored browser libraries from the npm registry (npm pack: no install
# scripts run), check each tarball's integrity and copy the files into
# dashboard/static/vendor/. With --check, only verify that the vendored files match.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/dashboard/static/vendor"
# package version file-in-package target sha512-integrity-of-tarball
LIBS=(
  "mpegts.js 1.8.2 dist/mpegts.js mpegts.js sha512-cZYMa5muASH55wrS6JK5IGkUqnCA96c0f+WdnW91jIK9s/N6NzjmTQDJNYg9A5u/G2Q5nj2b3w1Zwzze/9guxA=="
  "hls.js 1.7.4 dist/hls.light.min.js hls.light.min.js sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg=="
)
check_only=0
[ "${1:-}" = "--check" ] && check_only=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for entry in "${LIBS[@]}"; do
  read -r pkg version inner target integrity <<<"$entry"
  (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
  tarball="$(ls "$work"/*.tgz | head -n1)"
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "vendor_js: $pkg@$version tarball integrity mismatch" >&2; exit 1
  fi
  mkdir -p "$work/x" && tar xzf "$tarball" -C "$work/x"
  if [ "$check_only" -eq 1 ]; then
    cmp "$work/x/package/$inner" "$VENDOR/$target" || { echo "vendor_js: $target differs" >&2; exit 1; }
  else
    cp "$work/x/package/$inner" "$VENDOR/$target"
    cp "$work/x/package/LICENSE" "$VENDOR/LICENSE-$pkg.txt"
  fi
  rm -rf "$work/x" "$tarball"
  echo "vendor_js: $pkg@$version ok"
done
