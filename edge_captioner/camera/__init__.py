"""Getting the LATEST frame from a camera source, forever.

A `Camera` owns two kinds of threads:

* a supervisor (one per camera, for the camera's whole life): opens the source by starting a
  reader, watches it, declares the source "lost" on an open failure, a read failure, a bad frame or
  a STALL (no new frame for `stall_timeout_s`), and reopens it with exponential backoff and jitter.
  It never calls into OpenCV, so it never blocks: it ticks every `TICK_S` and stamps
  `last_progress`, which the daemon's watchdog checks.
* a reader per open attempt: opens the capture and grabs continuously, keeping only the newest
  frame, so that what the daemon captions is what the camera sees now, not a stale buffered frame.
  A read that hangs (a network camera that keeps the connection open but sends nothing, a wedged
  driver) cannot be interrupted from Python, so a stalled reader is ABANDONED, not joined: it is a
  daemon thread, its frames are ignored from then on, and it releases its capture when the read
  finally returns (FFmpeg sources get open/read timeouts so that this happens soon after).

Files play at their own frame rate (a 13 s clip lasts 13 s) and loop or end ("ended").
Cameras are independent: each has its own threads and its own capture.

Modules: sources.py (which capture a configured source means), frames.py (`Frame`, making a
driver's image usable), reader.py (one open attempt), supervisor.py (`Camera`).
"""

from .frames import Frame
from .supervisor import Camera, StateCallback

__all__ = ["Camera", "Frame", "StateCallback"]
