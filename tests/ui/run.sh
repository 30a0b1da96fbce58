#!/usr/bin/env bash
# Browser tests of the web UI (node --test + playwright-core + Debian's
# chromium), against the real `skydive allinone`. Run as root (netns, veth).
#   tests/ui/run.sh                 # builds web/ and bin/skydive, runs all
#   SKYDIVE_BIN=/path/skydive tests/ui/run.sh   # use that binary
#   SKIP_UI_BUILD=1 tests/ui/run.sh # keep web/dist as it is
# Screenshots, analyzer logs and perf.json land in tests/ui/artifacts/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH

need=
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need="$need chromium"
command -v ip >/dev/null || need="$need iproute2"
# auth.test.mjs: the test CA in a browser profile's NSS database, certificates by openssl.
command -v certutil >/dev/null || need="$need libnss3-tools"
command -v openssl >/dev/null || need="$need openssl"
if [ -n "$need" ]; then
  echo "installing:$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ -z "${SKIP_UI_BUILD:-}" ] || [ ! -f "$repo/web/dist/index.html" ]; then
  (cd "$repo/web" && npm ci --no-audit --no-fund --loglevel=error && npm run build)
fi
if [ -z "${SKYDIVE_BIN:-}" ]; then
  (cd "$repo" && go build -o bin/skydive ./cmd/skydive)
  export SKYDIVE_BIN="$repo/bin/skydive"
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

rm -rf "$here/artifacts"
mkdir -p "$here/artifacts"
cd "$here"
# run.sh [test files...]: all of them by default.
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(./*.test.mjs)
timeout 480 node --test --test-concurrency=1 --test-reporter=spec "${tests[@]}"
