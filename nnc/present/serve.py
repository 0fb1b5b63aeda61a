"""`nnc view FILE --serve`: the page of `nnc view` from a small local web server, made
again whenever the file is saved, so that a user edits in their editor and watches the
table, the diagram and the errors change.

The server answers two paths and nothing else: `/` (the page) and `/version` (a digest of
the watched files' sizes and modification times, which the page asks for twice a second
and reloads on a change). It binds to 127.0.0.1 unless another address is asked for, and
stops on Ctrl-C. On loopback it answers only requests addressed to loopback by name or
number (the Host header), so that a web page elsewhere cannot read it through a domain
name pointed at 127.0.0.1 (DNS rebinding). The watched files are the ones shown and every
.arch file in their folders; `use` names files in the same folder, so that covers them.
"""
from __future__ import annotations

import glob
import hashlib
import ipaddress
import os
import socket
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


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def handler_for(page: LivePage, loopback_only: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the names http.server calls
            self.respond(send_body=True)

        def do_HEAD(self):
            self.respond(send_body=False)

        def respond(self, send_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if loopback_only and not is_loopback(host):
                self.answer(403, b"this server answers only requests to 127.0.0.1 or "
                                 b"localhost\n", send_body)
            elif path in ("/", "/index.html"):
                self.answer(200, page.current()[1], send_body, "text/html; charset=utf-8")
            elif path == "/version":
                self.answer(200, version(page.paths).encode(), send_body)
            else:
                self.answer(404, b"not found: this server shows one page, at /\n", send_body)

        def answer(self, status: int, body: bytes, send_body: bool,
                   content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format, *args):  # one line per request is noise here
            pass
    return Handler


def serve(paths: list[str], render: Callable[[str], str], host: str, port: int,
          announce: Callable[[str], None]) -> None:
    """Serve until Ctrl-C; `announce` is told the address once the socket listens."""
    server_class = ThreadingHTTPServer
    if ":" in host:   # an IPv6 address, such as ::1
        server_class = type("ThreadingHTTPServer6", (ThreadingHTTPServer,),
                            {"address_family": socket.AF_INET6})
    server = server_class((host, port), handler_for(LivePage(paths, render), is_loopback(host)))
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    try:
        announce(f"http://{shown}:{bound_port}/")
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
