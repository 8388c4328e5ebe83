#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine (or a developer's) for edge-captioner: the system packages
# that pip cannot install, then a virtual environment in .venv with the package and the extras
# given as arguments (e.g. `convert,dev`). Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
if [[ ",$extras," == *",dev,"* ]]; then
  # the tests check the service unit with systemd-analyze (verify, security --offline)
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  # the clock-jump test builds a tiny LD_PRELOAD library (tests/clockjump.c)
  command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
fi
if [[ ",$extras," == *",convert,"* ]]; then
  # pycocoevalcap's METEOR and PTB tokenizer run on Java.
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
