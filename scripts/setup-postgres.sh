#!/usr/bin/env bash
# Make PostgreSQL's server binaries available for the test suite (Debian's packages).
# A no-op when they are already installed; tests start their own server on 127.0.0.1.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL server binaries are missing; run as root, or: sudo apt-get install postgresql" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql > /dev/null
