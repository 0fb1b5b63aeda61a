"""`nnc view`: a network as one self-contained HTML page (`-o report.html`), or served
live from 127.0.0.1 while the file is edited (`--serve`); two files give the pages side
by side under `nnc diff`'s table. Like the other front-end commands it never imports
TensorFlow, Keras, JAX or torch.

A file that does not check (or cannot be read) still gives a page, with its errors in
place; the command then reports them as `nnc check` does and exits 2.
"""
from __future__ import annotations

import argparse
import os
import sys

from nnc.cli.common import USER_ERROR, note, report
from nnc.errors import ArchIOError, NncError
from nnc.lang.expand import Limits

HTML_SUFFIXES = (".html", ".htm")


def add_commands(commands, common) -> None:
    view = commands.add_parser(
        "view", parents=[common],
        help="the network as one HTML page: tables, diagram, charts, source, errors")
    view.add_argument("files", nargs="+", metavar="FILE",
                      help="an .arch file, or two to compare side by side")
    view.add_argument("-o", "--output", metavar="OUT.html", help="write the page here")
    view.add_argument("--serve", action="store_true",
                      help="serve the page live, made again whenever the file is saved")
    view.add_argument("--host", default="127.0.0.1",
                      help="the address to serve on (default 127.0.0.1: this machine only)")
    view.add_argument("--port", type=port_number, default=8000,
                      help="the port to serve on (default 8000; 0 picks a free one)")
    view.set_defaults(run=run_view)


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535. "
                                          f"Received: {text}")
    return int(text)


def run_view(args) -> int:
    try:
        check_request(args)
        panels = make_panels(args)
        for panel in panels:
            for problem in panel.problems:
                report(problem, panel.path, panel.source)
        if args.output:
            write_page(args, panels)
        if args.serve:
            return serve_live(args)
    except NncError as e:
        report(e, args.files[0])
        return USER_ERROR
    return USER_ERROR if any(p.errors for p in panels) else 0


def check_request(args) -> None:
    """What can be told before compiling anything: how many files, where the page goes."""
    if len(args.files) > 2:
        raise ArchIOError(f"`nnc view` shows one file, or two side by side. Received: "
                          f"{len(args.files)} files")
    if not args.output and not args.serve:
        raise ArchIOError("say where the page goes: -o report.html to write it, or "
                          "--serve to serve it live. Received: neither")
    if args.output is None:
        return
    if not args.output.lower().endswith(HTML_SUFFIXES):
        raise ArchIOError(f"the page is HTML: its name must end in .html. "
                          f"Received: {args.output}")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise ArchIOError(f"cannot write the page: the folder '{folder}' does not exist. "
                          f"Received: -o {args.output}")
    if os.path.isdir(args.output):
        raise ArchIOError(f"cannot write the page over a folder; name a file. "
                          f"Received: -o {args.output}")


def make_panels(args):
    """Each file read and compiled for the page, its errors kept with it."""
    from nnc.present.page import panel_for
    limits = Limits(max_params=args.max_params)
    return [panel_for(path, limits, args.strict) for path in args.files]


def page_for(panels, version: str | None = None) -> str:
    """The page's HTML, under the diff's table when two files both check (or a line
    saying which one does not)."""
    from nnc.present.page import page_html
    diff = ""
    if len(panels) == 2:
        broken = [p.path for p in panels if p.compiled is None]
        if broken:
            from html import escape
            diff = (f"<div class='nnc-diff'><p>no diff: {escape(' and '.join(broken))} "
                    f"{'does' if len(broken) == 1 else 'do'} not check.</p></div>")
        else:
            from nnc.present.diff import compare, format_html
            diff = format_html(compare(panels[0].compiled, panels[1].compiled))
    return page_html(panels, diff, version)


def write_page(args, panels) -> None:
    from nnc.present.output import write_atomically
    data = page_for(panels).encode()
    write_atomically(args.output, data)
    problems = sum(len(p.problems) for p in panels)
    print(f"{' and '.join(args.files)}: wrote {args.output} ({len(data) // 1024:,} KiB"
          + (f"; {problems} problem{'s' if problems != 1 else ''} shown in place"
             if problems else "") + ")")


def serve_live(args) -> int:
    from nnc.present.serve import is_loopback, serve

    def announce(address: str) -> None:
        print(f"{' and '.join(args.files)}: serving at {address} (Ctrl-C stops)", flush=True)
        if not is_loopback(args.host):
            note(f"serving on {args.host}: other machines that reach this address can "
                 f"read the page")
    try:
        serve(args.files, lambda version: page_for(make_panels(args), version),
              args.host, args.port, announce)
    except OSError as e:
        raise ArchIOError(f"cannot serve on {args.host}:{args.port}: "
                          f"{e.strerror or e}. Received: --host {args.host} "
                          f"--port {args.port}") from None
    print("stopped", file=sys.stderr)
    return 0
