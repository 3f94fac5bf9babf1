#!/usr/bin/env bash
# The web console (console/): install its pinned dependencies (npm ci), type-check it (tsc) and
# build it (vite), fail if the bundle committed in console/dist — the one `cargo build` embeds —
# is not what the sources build to, then run the browser tests: headless Chromium (Debian's
# `chromium` package, or $CHROMIUM) driven by playwright-core against a real `switchyard serve`
# with the Python example plugin. Screenshots of every page go to $CONSOLE_SCREENSHOTS (a temp
# dir by default; the run prints it). Expects target/debug/switchyard (cargo build
# --workspace --bins) and the Python SDK's virtualenv (plugin-sdk/python/scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x target/debug/switchyard ]; then
  echo "target/debug/switchyard is missing: build the workspace's binaries first (cargo build --workspace --bins)" >&2
  exit 1
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "$CHROMIUM is missing: apt-get install -y chromium (or set CHROMIUM to a Chromium binary)" >&2
  exit 1
fi
export CHROMIUM
plugin-sdk/python/scripts/setup.sh

echo "== console: npm ci, tsc, vite build"
(cd console && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

echo "== console: the committed bundle is the one the sources build"
if [ -n "$(git status --porcelain -- console/dist)" ]; then
  git status --short -- console/dist >&2
  echo "console/dist is stale: run \`npm run build\` in console/ and commit console/dist" >&2
  exit 1
fi

echo "== console: browser tests"
(cd console && npm test)
