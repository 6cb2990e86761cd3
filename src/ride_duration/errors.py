"""Errors the user can fix: the CLI prints them as one line and exits with code 2."""


class RideDurationError(Exception):
    """A failure caused by input, data or network, not by a bug."""


class DataError(RideDurationError):
    """A trip-record file is missing, unreadable or unusable."""


class ModelFileError(RideDurationError):
    """A model file is missing, tampered with or cannot be written."""


class UnreadableFile(DataError):
    """A file is there but the OS will not let us read it: fix its permissions, not its bytes."""
