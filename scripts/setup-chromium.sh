#!/usr/bin/env bash
# Make Debian's chromium available for the browser tests (Playwright drives it; it never
# downloads a browser). A no-op when it is already installed.
set -euo pipefail
if command -v chromium > /dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing; run as root, or: sudo apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium > /dev/null
