"""The ``hitl`` entry point: the engine's CLI, with the console plugged in.

Kept free of Textual imports so that ``hitl pending`` starts as fast as the engine's
own listing; the console is imported only when it is opened.
"""

from __future__ import annotations

import argparse
import sys


def _open_console(args: argparse.Namespace) -> int:
    if getattr(args, "web", False):
        try:
            from tui.web import serve_console
        except ImportError as error:  # textual-serve is the `web` extra
            print(f"hitl: --web needs textual-serve ({error})", file=sys.stderr)
            return 1
        return serve_console(args)
    try:
        from tui.launch import run_console
    except ImportError as error:
        print(f"hitl: the console could not start ({error})", file=sys.stderr)
        return 1
    return run_console(args)


def _serve(args: argparse.Namespace) -> int:
    try:
        from api.server import run
    except ImportError as error:
        print(f"hitl: the HTTP API could not start ({error})", file=sys.stderr)
        return 1
    return run(args)


def main() -> int:
    import os

    os.umask(0o077)  # what hitl writes (database, outbox, exports) is its owner's alone
    from engine.cli import main as cli_main

    return cli_main(console=_open_console, serve=_serve)
