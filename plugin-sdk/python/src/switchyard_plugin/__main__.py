"""Command line of the SDK: ``python -m switchyard_plugin gen [--proto-dir DIR] [--force]``
generates the gRPC stubs from the repository's ``proto/`` (see :mod:`switchyard_plugin.gen`)."""

import sys

from .gen import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "gen":
        print("usage: python -m switchyard_plugin gen [--proto-dir DIR] [--force]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[1:]))
