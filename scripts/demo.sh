#!/usr/bin/env bash
# The demo: set up, then run the daemon on the built-in demo (`edge-captioner run --demo`: the
# shipped English model, the bundled sample clip as the front-door camera, device
# edge-captioner-demo, no Home Assistant discovery) against a Mosquitto broker of its own on a free
# localhost port (never a broker it did not start: its retained messages go away with it), and
# show the captions arriving with `edge-captioner watch`.
# Runs until Ctrl-C; DEMO_SECONDS=N stops it after N seconds (default 40 when not on a terminal).
# At the end the daemon stops first, while its broker is up (it publishes `offline` and
# disconnects cleanly), then the watch, then the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=.venv/bin

broker_pid="" daemon_pid="" log_pid="" watch_pid=""
stop() {  # stop() PID: SIGTERM, then wait for it to exit
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop "$daemon_pid"
  exec 4>&- 2>/dev/null || true        # the daemon's log prefixer gets EOF, prints the last lines
  [ -z "$log_pid" ] || wait "$log_pid" 2>/dev/null || true
  [ -z "$watch_pid" ] || sleep 0.2     # the watch shows the daemon's `offline`
  stop "$watch_pid"
  stop "$broker_pid"
  [ -z "${work:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d)
port=$($bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
# a session of its own: Ctrl-C on the terminal reaches the daemon and the watch, not the broker,
# which the clean-up stops last
setsid mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
broker_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
# the built-in demo (edge-captioner check-config --demo shows it), on the demo's own broker
cat > "$work/config.yaml" <<YAML
device_id: edge-captioner-demo
mqtt: {host: 127.0.0.1, port: $port, client_id: edge-captioner-demo, discovery: {enabled: false}}
cameras:
  - {name: front_door, source: sample, place: front_door}
YAML

seconds="${DEMO_SECONDS:-}"
[ -n "$seconds" ] || { [ -t 1 ] || seconds=40; }

echo "demo: edge-captioner run (shipped model, sample clip, the demo's broker on port $port)" >&2
exec 4> >(trap '' INT; exec sed -u 's/^/  daemon: /' >&2)  # outlives a Ctrl-C, for the last lines
log_pid=$!
$bin/edge-captioner run --config "$work/config.yaml" 2>&4 &
daemon_pid=$!
echo "demo: captions as they arrive on MQTT (edge-captioner watch)${seconds:+, for $seconds s}:" >&2
$bin/edge-captioner watch --config "$work/config.yaml" 4>&- &
watch_pid=$!
if [ -n "$seconds" ]; then
  sleep "$seconds"
else
  wait "$watch_pid" || true
fi
