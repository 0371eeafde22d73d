"""User-facing errors.

Anything raised as a :class:`SegcamError` is a problem with the user's input or
machine (a missing file, a bad option, a camera that does not open). The CLI
prints its message as one line and exits non-zero; it never shows a traceback
for these. Everything else is a bug and is reported as an internal error.

Exit codes (the table in :mod:`segcam.cli` and the README): an error found
before the first frame exits 2 (nothing was done); the same error found
part-way through a run, after output was produced, exits 1. The code that
finds an error mid-run marks it with :func:`midway`.
"""

#: Exit code of an error found before any work was done.
EXIT_REFUSED = 2
#: Exit code of a run that failed part-way (what was written is kept).
EXIT_MIDWAY = 1


class SegcamError(Exception):
    """Base class: ``str(err)`` is a complete, one-line message for the user."""

    exit_code = EXIT_REFUSED


class ConfigError(SegcamError):
    """An invalid option or config value (bad resolution, unknown colour, ...)."""


class InputError(SegcamError):
    """An input that cannot be opened or decoded (file, camera, image, background)."""


class ModelError(SegcamError):
    """A model file that is missing, truncated or not a usable segmentation model."""


class OutputError(SegcamError):
    """An output path that cannot be written, or an encoder/muxer failure."""


def midway(err: SegcamError) -> SegcamError:
    """Mark ``err`` as found part-way through a run (exit code 1), and return it."""
    err.exit_code = EXIT_MIDWAY
    return err


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

    exit_code = EXIT_MIDWAY
