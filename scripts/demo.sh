#!/usr/bin/env bash
# The demo: set up, then run the daemon on the built-in default (the shipped English model, the
# bundled sample clip as the front-door camera) against a Mosquitto broker of its own on a free
# localhost port (never a broker it did not start: its retained messages, Home Assistant discovery
# included, go away with it), and show the captions arriving with `edge-captioner watch`.
# Runs until Ctrl-C; DEMO_SECONDS=N stops it after N seconds (default 40 when not on a terminal).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=.venv/bin

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "${work:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

work=$(mktemp -d)
port=$($bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
# the built-in default, on the demo's own broker
cat > "$work/config.yaml" <<YAML
device_id: demo-house
mqtt: {host: 127.0.0.1, port: $port}
cameras:
  - {name: front_door, source: sample, place: front_door}
YAML

seconds="${DEMO_SECONDS:-}"
[ -n "$seconds" ] || { [ -t 1 ] || seconds=40; }

echo "demo: edge-captioner run (shipped model, sample clip, the demo's broker on port $port)" >&2
$bin/edge-captioner run --config "$work/config.yaml" 2> >(sed 's/^/  daemon: /' >&2) &
pids+=($!)
echo "demo: captions as they arrive on MQTT (edge-captioner watch)${seconds:+, for $seconds s}:" >&2
if [ -n "$seconds" ]; then
  timeout --signal=TERM "$seconds" $bin/edge-captioner watch --config "$work/config.yaml" || true
else
  $bin/edge-captioner watch --config "$work/config.yaml"
fi
