"""`nnc view FILE --serve`: the page of `nnc view` from a small local web server, made
again whenever the file is saved, so that a user edits in their editor and watches the
table, the diagram and the errors change.

The server answers two paths and nothing else: `/` (the page) and `/version` (a digest of
the watched files' sizes and modification times, which the page asks for twice a second
and reloads on a change). It binds to 127.0.0.1 unless another address is asked for, and
stops on Ctrl-C. The watched files are the ones shown and every .arch file in their
folders, which covers the files they `use`.
"""
from __future__ import annotations

import glob
import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

LOOPBACK = "127.0.0.1"


def watched(paths: list[str]) -> list[str]:
    folders = {os.path.dirname(os.path.abspath(p)) for p in paths}
    found = {os.path.abspath(p) for p in paths}
    for folder in folders:
        found.update(glob.glob(os.path.join(glob.escape(folder), "*.arch")))
    return sorted(found)


def version(paths: list[str]) -> str:
    """A digest that changes when a watched file is saved, made, or removed."""
    digest = hashlib.sha256()
    for path in watched(paths):
        try:
            info = os.stat(path)
            digest.update(f"{path}\0{info.st_mtime_ns}\0{info.st_size}\n".encode())
        except OSError:
            digest.update(f"{path}\0gone\n".encode())
    return digest.hexdigest()[:16]


class LivePage:
    """The page for the files' current version, made at most once per version."""

    def __init__(self, paths: list[str], render: Callable[[str], str]):
        self.paths = paths
        self.render = render
        self.lock = threading.Lock()
        self.made: tuple[str, bytes] | None = None

    def current(self) -> tuple[str, bytes]:
        with self.lock:
            now = version(self.paths)
            if self.made is None or self.made[0] != now:
                self.made = (now, self.render(now).encode())
            return self.made


def handler_for(page: LivePage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the name http.server calls
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self.answer(200, "text/html; charset=utf-8", page.current()[1])
            elif path == "/version":
                self.answer(200, "text/plain; charset=utf-8", version(page.paths).encode())
            else:
                self.answer(404, "text/plain; charset=utf-8",
                            b"not found: this server shows one page, at /\n")

        def answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # one line per request is noise here
            pass
    return Handler


def serve(paths: list[str], render: Callable[[str], str], host: str, port: int,
          announce: Callable[[str], None]) -> None:
    """Serve until Ctrl-C; `announce` is told the address once the socket listens."""
    server = ThreadingHTTPServer((host, port), handler_for(LivePage(paths, render)))
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    try:
        announce(f"http://{bound_host}:{bound_port}/")
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
