"""A real MJPEG-over-HTTP camera for tests: what an IP camera or `mjpg-streamer` serves.

`multipart/x-mixed-replace; boundary=frame`, one JPEG per part, at a fixed frame rate. A test can
stop it (client connections are closed too, so the client sees the stream die), start it again on
the SAME port, or make it stall (the connection stays open but nothing more is sent), which is how
a hung network camera looks to the client.

    with MJPEGServer(frames=lambda i: make_image(i), fps=15) as cam:
        cv2.VideoCapture(cam.url, cv2.CAP_FFMPEG)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "frame"
FrameSource = Callable[[int], "np.ndarray | bytes"] | Sequence["np.ndarray | bytes"]


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def counter_frame(i: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A BGR test picture that differs from frame to frame (a bar moving across it)."""
    w, h = size
    image = np.full((h, w, 3), 40, np.uint8)
    x = (i * 7) % w
    image[:, x: x + 8] = (0, 200, 255)
    cv2.putText(image, str(i), (4, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return image


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # SO_REUSEADDR: restart on the same port despite TIME_WAIT

    def __init__(self, address, owner: MJPEGServer):
        self.owner = owner
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # keep the test output clean

    def do_GET(self):  # noqa: N802 - http.server's naming
        owner = self.server.owner
        owner._register(self.connection)
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            owner._stream_to(self.wfile)
        except OSError:
            pass  # the client went away or the server closed the connection: both are normal here
        finally:
            owner._unregister(self.connection)


class MJPEGServer:
    """Serves `frames` (a callable i -> image/JPEG bytes, or a list used in a cycle) at `fps`."""

    def __init__(self, frames: FrameSource = counter_frame, fps: float = 10.0, port: int = 0,
                 host: str = "127.0.0.1", quality: int = 85):
        self.frames = frames
        self.fps = fps
        self.host = host
        self.port = port  # 0: pick a free one at the first start, then keep it
        self.quality = quality
        self.frames_sent = 0
        self._stalled = threading.Event()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/stream.mjpg"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._connections)

    def start(self) -> MJPEGServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"mjpeg-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening AND drop the connected clients: to them the camera is gone."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _close_quietly(conn)
        if self._thread is not None:
            self._thread.join(2)
        self._server = None
        self._thread = None

    def stall(self, stalled: bool = True) -> None:
        """While stalled, connections stay open and nothing is sent (a hung camera)."""
        if stalled:
            self._stalled.set()
        else:
            self._stalled.clear()

    def __enter__(self) -> MJPEGServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- used by the handler threads ---------------------------------------------------------------
    def _register(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _unregister(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _frame(self, i: int) -> bytes:
        frame = self.frames(i) if callable(self.frames) else self.frames[i % len(self.frames)]
        return frame if isinstance(frame, bytes) else encode_jpeg(frame, self.quality)

    def _stream_to(self, out) -> None:
        period = 1.0 / self.fps
        i = 0
        next_at = time.monotonic()
        while not self._stopping.is_set():
            if self._stalled.is_set():
                self._stopping.wait(period)
                continue
            jpeg = self._frame(i)
            out.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                      f"Content-Length: {len(jpeg)}\r\n\r\n".encode("ascii") + jpeg + b"\r\n")
            out.flush()
            self.frames_sent += 1
            i += 1
            next_at = max(next_at + period, time.monotonic() - period)
            self._stopping.wait(max(0.0, next_at - time.monotonic()))


def _close_quietly(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        conn.close()
    except OSError:
        pass
