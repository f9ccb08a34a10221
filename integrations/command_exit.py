"""How the console scripts end: an error is one line on stderr and exit status 2, never a
traceback (shared by `carebot` and `carebot-gateway`, which imports nothing of the service)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from pydantic import ValidationError

EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 1  # what Python itself exits with on EPIPE
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C

log = logging.getLogger(__name__)


def one_line(error: BaseException) -> str:
    """The error as one line: its message with whitespace folded, else its type's name."""
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'value'}: {problem['msg']}"
            for problem in error.errors()
        )
        return f"invalid {error.title}: {problems}"
    text = " ".join(str(error).split())
    return text or type(error).__name__


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run COMMAND and return its exit status; any exception becomes `PROG: error: ...`."""
    try:
        code = command()
        sys.stdout.flush()  # a reader gone away (`| head`) is found here, not at exit
        return code
    except BrokenPipeError:
        # Python's documented recipe (library/signal, "Note on SIGPIPE"): the reader has
        # all it wanted; point stdout at devnull so the interpreter's last flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        log.debug("%s failed", prog, exc_info=True)  # the traceback, at CAREBOT_LOG_LEVEL=DEBUG
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
