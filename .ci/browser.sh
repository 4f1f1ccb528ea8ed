#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it via executable_path;
# `playwright install` would need the internet).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then echo "chromium missing and not root: browser tests will fail" >&2; exit 0; fi
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
