"""``callsim serve`` (being built: see the HTTP endpoint issue)."""

from __future__ import annotations

import argparse
import sys


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the serve options."""


def serve_command(args: argparse.Namespace) -> int:
    """Run the endpoint."""
    print("callsim: error: 'serve' is not available yet", file=sys.stderr)
    return 1
