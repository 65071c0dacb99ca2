"""A local HTTP receiver for apprise's json:// channels, in a process of its own.

It stamps each message with its arrival time (time.time()) the moment the body is read, so a busy
benchmark process cannot delay the stamp. GET /arrivals returns everything received so far.
Run: python -m bench.receiver PORT
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

arrivals: list[dict] = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.time()
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        with lock:
            arrivals.append({"at": at, "path": self.path.strip("/"), "title": data.get("title", ""),
                             "body": data.get("message", "")})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        with lock:
            payload = json.dumps(arrivals).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args):
        pass


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):  # nothing to flush: stop at once
        signal.signal(sig, lambda *_: os._exit(0))
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
