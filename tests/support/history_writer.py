"""A process that records a burst of captions through the real RecordingSink and HistoryStore,
printing `ack <seq>` (flushed) once each caption has been handed on, as MQTT would acknowledge
it: the kill -9 test (service/test_history.py) kills it in the middle and reads the store back.

    python tests/support/history_writer.py STORE COUNT [SYNC]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_captioner.history.recording import RecordingSink
from edge_captioner.history.store import HistoryStore

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@dataclass
class Caption:
    seq: int

    def payload(self) -> dict:
        # the same caption has the same timestamp in every run: a run that re-records it must not
        # store it twice
        when = T0 + timedelta(milliseconds=250 * self.seq)
        return {"camera": "front_door", "caption": f"{self.seq % 7} people at the front door",
                "confidence": 0.9, "language": "en", "model": "m", "latency_ms": 1.0,
                "timestamp": when.isoformat(timespec="milliseconds"), "seq": self.seq,
                "found": {"kinds": {"person": self.seq % 7 or 1}, "postures": [], "place": None}}


class Acknowledging:
    """Stands for the MQTT session: a caption handed on is acknowledged (printed)."""

    def publish_caption(self, event, snapshot=None) -> None:
        sys.stdout.write(f"ack {event.seq}\n")
        sys.stdout.flush()


def main() -> None:
    store = HistoryStore(Path(sys.argv[1]), sync=sys.argv[3] if len(sys.argv) > 3 else "normal")
    sink = RecordingSink(Acknowledging(), store)
    for seq in range(1, int(sys.argv[2]) + 1):
        sink.publish_caption(Caption(seq))
    sys.stdout.write("done\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
