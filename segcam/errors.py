"""User-facing errors.

Anything raised as a :class:`SegcamError` is a problem with the user's input or
machine (a missing file, a bad option, a camera that does not open). The CLI
prints its message as one line and exits non-zero; it never shows a traceback
for these. Everything else is a bug and is reported as an internal error.
"""


class SegcamError(Exception):
    """Base class: ``str(err)`` is a complete, one-line message for the user."""

    exit_code = 2


class ConfigError(SegcamError):
    """An invalid option or config value (bad resolution, unknown colour, ...)."""


class InputError(SegcamError):
    """An input that cannot be opened or decoded (file, camera, image, background)."""


class ModelError(SegcamError):
    """A model file that is missing, truncated or not a usable segmentation model."""


class OutputError(SegcamError):
    """An output path that cannot be written, or an encoder/muxer failure."""


def one_line(err: BaseException) -> str:
    """The first non-empty line of ``str(err)``, or the exception's type name.

    Native libraries (OpenCV, FFmpeg) raise multi-line messages; users get one line,
    and the full text goes to the debug log with the traceback.
    """
    for line in str(err).splitlines():
        if line.strip():
            return line.strip()
    return type(err).__name__


class SourceLost(InputError):
    """A live source (camera) stopped delivering frames and could not be reopened."""

    exit_code = 1
