#!/usr/bin/env bash
# Meta's vpdq (the `vpdq` extra), which the vPDQ peer tests compare against. It has no wheel:
# pip builds it from source against FFmpeg's development packages, installed here from Debian
# where missing (as root). Best effort: without it, those tests skip and say why.
set -uo pipefail
pip="$1"
libs=(libavcodec libavformat libavutil libswscale)
if ! pkg-config --exists "${libs[@]}" 2> /dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq pkg-config libavcodec-dev libavformat-dev \
      libavdevice-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev > /dev/null
  fi
fi
if ! "$pip" install -q -e '.[vpdq]'; then
  echo "vpdq could not be built (FFmpeg -dev packages missing?): its peer tests will skip" >&2
fi
exit 0
