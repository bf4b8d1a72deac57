#!/usr/bin/env bash
# Chromium for the admin's end-to-end browser test: Playwright's Python package drives
# Debian's build (no browser download). Installs it when /usr/bin/chromium is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "== chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q chromium
fi
/usr/bin/chromium --version 2>/dev/null || true
