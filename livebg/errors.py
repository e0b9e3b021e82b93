"""Errors that livebg reports to its user.

Every error is raised where it is detected, with one sentence that names the value received, what is
accepted and what to do. The CLI turns it into one line and an exit code. Each class also inherits the
matching built-in exception so callers can catch either.
"""

from __future__ import annotations


class LivebgError(Exception):
    """Base class of every error meant for the user; ``str(err)`` is the message to show."""

    exit_code = 1


class InputNotFoundError(LivebgError, FileNotFoundError):
    """An input file, camera or stream does not exist."""

    def __str__(self) -> str:  # FileNotFoundError formats (errno, strerror) otherwise
        return str(self.args[0]) if self.args else ""


class InputError(LivebgError, ValueError):
    """An input exists but cannot be used (corrupt, not a video, unsupported)."""


class UsageError(LivebgError, ValueError):
    """A command-line value or combination of options is not accepted."""

    exit_code = 2


class OutputError(LivebgError, OSError):
    """The output cannot be written (exists, same as the input, wrong container)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class WeightsError(LivebgError, RuntimeError):
    """Model weights are missing, damaged, or of the wrong layout, or cannot be downloaded."""


class DeviceError(LivebgError, RuntimeError):
    """A requested compute device is not available."""


class CameraError(LivebgError, OSError):
    """A capture device cannot be opened or stopped delivering frames."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class VirtualCameraError(LivebgError, RuntimeError):
    """No virtual camera driver is available, or it refused the requested format."""


class BackgroundError(LivebgError, ValueError):
    """A ``--background`` value is not understood or its file cannot be read."""


class MissingDependencyError(LivebgError, ImportError):
    """An optional package is needed for the requested feature; the message gives the pip command."""


class Interrupted(LivebgError, KeyboardInterrupt):
    """The user stopped the work (Ctrl-C); partial outputs have been removed."""

    exit_code = 130
