"""Errors the user can fix: the CLI prints them as one line and exits with code 2; Jupyter
shows them as the same line, without the package's traceback frames."""

import os

DEBUG_ENV = "RIDE_DURATION_DEBUG"


class RideDurationError(Exception):
    """A failure caused by input, data or network, not by a bug."""

    def _render_traceback_(self) -> list[str]:
        """What Jupyter shows for this error: the CLI's line, or with RIDE_DURATION_DEBUG=1
        the whole traceback."""
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            return _full_traceback(self)
        return [
            f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}",
            f"(set the environment variable {DEBUG_ENV}=1 to see the traceback)",
        ]


def _full_traceback(error: BaseException) -> list[str]:
    try:
        from IPython import get_ipython

        return get_ipython().InteractiveTB.structured_traceback(
            type(error), error, error.__traceback__
        )
    except Exception:  # not in IPython after all
        import traceback

        return traceback.format_exception(error)


class DataError(RideDurationError):
    """A trip-record file is missing, unreadable or unusable."""


class ModelFileError(RideDurationError):
    """A model file is missing, tampered with or cannot be written."""


class UnreadableFile(DataError):
    """A file is there but the OS will not let us read it: fix its permissions, not its bytes."""
