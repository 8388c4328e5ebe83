"""A stand-in for Frigate's HTTP API on a free local port: it records each POST and answers with
the status it is told to."""

from __future__ import annotations

import http.server
import json
import threading


class FrigateAPI(http.server.ThreadingHTTPServer):
    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        self.status = 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N802 - http.server's name
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.posts.append((handler.path, json.loads(body)))
                handler.send_response(self.status)
                handler.end_headers()
                handler.wfile.write(b'{"success": true}')

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"
