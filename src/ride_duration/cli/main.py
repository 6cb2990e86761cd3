"""The ``ride-duration`` entry point.

Exit codes: 0 success; 2 a failure caused by input, data or network (one line on stderr,
``--debug`` for the traceback); 1 a bug.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import traceback

from ..errors import RideDurationError
from .commands import PROG, say
from .parser import build_parser


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled as Ctrl-C is: cleanup runs, then exit 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


HANDLED = (signal.SIGTERM, signal.SIGHUP)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    # Let memory that Arrow frees after converting a month go back to the allocator NumPy
    # uses, instead of Arrow's own pool keeping it (read before pyarrow is imported).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    parser = build_parser()
    args = parser.parse_args(argv)
    # Handled as Ctrl-C is; restored on return, for callers that run main() in-process.
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in HANDLED}
    try:
        return args.handler(args)
    except (RideDurationError, OSError) as exc:
        # OSError here is the file system's or the OS's answer (permission denied, disk full,
        # a name too long, a folder where a file should be): the user's to fix, not a bug.
        if args.debug:
            traceback.print_exc()
        say("error", _describe(exc))
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"{PROG}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run() -> None:
    """The console script and ``python -m ride_duration``: main(), then exit at once.

    Tearing down the interpreter (every module and object MLflow, SQLAlchemy, pandas and
    scikit-learn brought in) took 1.2 s after a tracked training was done. The exit
    handlers still run (MLflow's, multiprocessing's, coverage's) and the output is flushed;
    only the teardown is skipped. While a thread that is not a daemon still runs (an
    executor's, say), the interpreter exits the usual way, which waits for it."""
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if not isinstance(code, int) or any(not t.daemon for t in others):
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, RideDurationError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc)
