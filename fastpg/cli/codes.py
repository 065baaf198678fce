"""The exit codes of the ``fastpg`` command (the README's "Failures" section lists them)."""

EXIT_OK = 0  # success
EXIT_FAILED = 1  # training failed (e.g. a non-finite gradient), or a sweep lost or failed runs
EXIT_BAD_INPUT = 2  # bad options, files or folders; nothing was changed
EXIT_MISSING_DEPENDENCY = 3  # an optional package the command needs is not installed
EXIT_INTERNAL = 4  # a bug in fastpg: set FASTPG_DEBUG=1 for the traceback
EXIT_INTERRUPTED = 130  # Ctrl-C; the last checkpoint is kept
