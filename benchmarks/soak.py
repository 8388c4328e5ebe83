#!/usr/bin/env python3
"""Soak: run the real daemon on the looping sample clip against a real broker for a while and
report what would show a slow leak or a stuck loop.

    python benchmarks/soak.py --minutes 30 [--bundle DIR] [--host 127.0.0.1 --port 1883] [--json]

Reports captions per minute (as received by a subscriber), the daemon's RSS, open file
descriptors and threads at start (after a one-minute warm-up, or a tenth of the run if shorter)
and at the end, and the queue/drop figures of its final status line. The broker must be running.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_captioner.mqtt import topics  # noqa: E402

BASE_TOPIC = "soak"


def proc_figures(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_mb": round(rss_kb / 1024, 1), "threads": threads, "fds": fds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--bundle", default="default")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--interval", type=float, default=0.5, help="camera interval_s")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    device = f"soak-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="edge-captioner-soak-"))
    config = work / "config.yaml"
    config.write_text(
        f"device_id: {device}\n"
        f"mqtt: {{host: {args.host}, port: {args.port}, base_topic: {BASE_TOPIC},"
        " discovery: {enabled: false}}\n"
        f"model: {{bundle: {json.dumps(str(args.bundle))}}}\n"
        f"cameras:\n  - {{name: porch, source: sample, interval_s: {args.interval},"
        " heartbeat_s: 30}\n"
    )
    received = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device}-sub")
    captions = topics.camera_topic(topics.device_base(BASE_TOPIC, device), topics.ANY, topics.CAPTION)
    sub.on_connect = lambda c, *_: c.subscribe(captions, qos=1)
    sub.on_message = lambda _c, _u, msg: received.append(time.monotonic())
    sub.connect(args.host, args.port)
    sub.loop_start()

    log_path = work / "daemon.log"
    with open(log_path, "w") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edge_captioner.cli", "run", "--config", str(config)],
            cwd=ROOT, stderr=log, env={**os.environ, "PYTHONPATH": str(ROOT)})
    total = args.minutes * 60
    warmup = min(60.0, total / 10)
    started = time.monotonic()
    time.sleep(warmup)
    first = proc_figures(daemon.pid)
    count_start = len(received)
    peak_rss = first["rss_mb"]
    stop = threading.Event()
    while not stop.wait(5.0):
        if daemon.poll() is not None or time.monotonic() - started >= total:
            break
        peak_rss = max(peak_rss, proc_figures(daemon.pid)["rss_mb"])
    alive = daemon.poll() is None
    last = proc_figures(daemon.pid) if alive else {}
    measured_s = time.monotonic() - started - warmup
    captions = len(received) - count_start
    daemon.send_signal(signal.SIGTERM)
    exit_code = daemon.wait(30)
    sub.loop_stop()
    text = log_path.read_text()
    final = re.findall(r"stopped: (.*)", text)
    result = {
        "minutes": args.minutes,
        "measured_minutes": round(measured_s / 60, 2),
        "captions_per_minute": round(captions / (measured_s / 60), 1) if measured_s > 0 else 0,
        "start": first,
        "end": last,
        "rss_growth_mb": round(last.get("rss_mb", 0) - first["rss_mb"], 1) if alive else None,
        "peak_rss_mb": peak_rss,
        "reconnects": len(re.findall(r"MQTT: connection to \S+ restored", text)),
        "dropped": int(m.group(1)) if (m := re.search(r"(\d+) dropped", final[-1] if final else ""))
        else None,
        "final_status": final[-1] if final else None,
        "exit_code": exit_code,
        "alive_until_the_end": alive,
        "log": str(log_path),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0 if alive and exit_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
