"""The ``fastpg`` command line (the top layer): ``app`` builds the parser and dispatches; ``export`` and ``sweep``
add their subcommands; ``codes`` holds the exit codes. Everything below loads only when its command runs."""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
