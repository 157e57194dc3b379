#!/usr/bin/env bash
# Write the report of a run folder and screenshot it in headless chromium (Debian's).
#
#   scripts/screenshot_report.sh RUN_DIR [OUT.png] [HEIGHT]
#
# Without RUN_DIR's report it is written first (xpusim report). The screenshot is 1280
# pixels wide and HEIGHT (default 2000) high; open it to check the page reads well.
set -euo pipefail
run_dir=${1:?usage: scripts/screenshot_report.sh RUN_DIR [OUT.png] [HEIGHT]}
out=${2:-"$run_dir/report-screenshot.png"}
height=${3:-2000}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "chromium not installed: apt-get install chromium" >&2
  exit 2
fi
python -m sim report "$run_dir" >/dev/null
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --screenshot="$out" --window-size="1280,$height" \
  "file://$(realpath "$run_dir")/report.html" 2>/dev/null
echo "$out"
