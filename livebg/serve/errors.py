"""The server's own errors, each with the HTTP status it is answered with.

Like every :class:`~livebg.errors.LivebgError`, ``str(err)`` is the one sentence shown to the user (in
the page and in the API's JSON error body ``{"error": "..."}``).
"""

from __future__ import annotations

from livebg.errors import InputError, LivebgError


class ServeError(LivebgError):
    """Base of the server's errors; ``http_status`` is the response's status code."""

    http_status = 400


class Unauthorized(ServeError, PermissionError):
    http_status = 401


class NotFound(ServeError, LookupError):
    http_status = 404


class NotReady(ServeError):
    """A job's result was asked for before the job finished (or after it failed)."""

    http_status = 409


class UploadTooLarge(ServeError, ValueError):
    http_status = 413


class BadForm(ServeError, ValueError):
    """The request's body is not the multipart form the endpoint takes (missing file, odd field)."""

    http_status = 422


class UnsupportedUpload(ServeError, InputError):
    """The upload decodes as neither a picture nor a video that livebg reads."""

    http_status = 415


class QueueFull(ServeError):
    http_status = 503


class StorageFull(ServeError, OSError):
    http_status = 507

    def __str__(self) -> str:  # OSError formats (errno, strerror) otherwise
        return str(self.args[0]) if self.args else ""


class JobCancelled(ServeError):
    """A job was deleted while it ran, or the server is stopping."""

    http_status = 409


class TimeLimitExceeded(ServeError):
    http_status = 408
