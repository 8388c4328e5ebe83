#!/usr/bin/env bash
# The demo: set up, then run the daemon on the built-in default (the shipped English model, the
# bundled sample clip as the camera, a Mosquitto broker on localhost, started here if none is
# running) and show the captions arriving with `edge-captioner watch`.
# Runs until Ctrl-C; DEMO_SECONDS=N stops it after N seconds (default 40 when not on a terminal).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=.venv/bin

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "demo: no MQTT broker on 127.0.0.1:1883: starting mosquitto for the demo" >&2
  conf=$(mktemp)
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > "$conf"
  mosquitto -c "$conf" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
fi

seconds="${DEMO_SECONDS:-}"
[ -n "$seconds" ] || { [ -t 1 ] || seconds=40; }

echo "demo: edge-captioner run (built-in default: shipped model, sample clip, localhost broker)" >&2
EDGE_CAPTIONER_CONFIG= $bin/edge-captioner run 2> >(sed 's/^/  daemon: /' >&2) &
pids+=($!)
echo "demo: captions as they arrive on MQTT (edge-captioner watch)${seconds:+, for $seconds s}:" >&2
if [ -n "$seconds" ]; then
  timeout --signal=TERM "$seconds" $bin/edge-captioner watch || true
else
  $bin/edge-captioner watch
fi
