"""Exceptions raised by shm_exchange.

Every error is a :class:`ShmError`; most are also the matching built-in
exception (``NotFound`` is a ``FileNotFoundError``, ``Timeout`` a
``TimeoutError``, ...), so ``except FileNotFoundError`` works too. Messages are
those of the ``shm`` command line: what was wrong, then what to do.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Busy",
    "Closed",
    "Corrupt",
    "FrameOverwritten",
    "InvalidArgument",
    "InvalidName",
    "NoSpace",
    "NotFound",
    "PermissionDenied",
    "ShmError",
    "Timeout",
    "TooLarge",
    "WriterDied",
    "WrongKind",
]


class ShmError(Exception):
    """Base class of every error shm_exchange raises."""


class InvalidName(ShmError, ValueError):
    """A mapping name breaks the rules: 1 to 30 bytes of [A-Za-z0-9._-], not starting with '.'."""


class InvalidArgument(ShmError, ValueError):
    """An argument is not usable: wrong dtype or shape, unknown pixel format, a capacity out of range, a file that is not an image, an object that is not JSON-able."""


class NotFound(ShmError, FileNotFoundError):
    """No mapping (or image file) at that name or path."""


class AlreadyExists(ShmError, FileExistsError):
    """create_new found the name taken."""


class PermissionDenied(ShmError, PermissionError):
    """The mapping belongs to another user, or group/others may access it."""


class NoSpace(ShmError, OSError):
    """The filesystem has no room for the mapping (reported at creation, never as a crash later)."""


class Corrupt(ShmError):
    """The mapping or the frame is not valid: another format, a damaged header, a CRC mismatch."""


class TooLarge(ShmError, ValueError):
    """The payload does not fit the mapping's capacity: create a larger mapping or send less."""


class Busy(ShmError):
    """Another writer held the mapping for the whole lock timeout, or writers kept the frame in flux."""


class Timeout(ShmError, TimeoutError):
    """No new frame arrived within the timeout."""


class WriterDied(ShmError):
    """A writer died (or gave up) in the middle of a frame: that frame is lost, the next send replaces it."""


class WrongKind(ShmError, TypeError):
    """The frame holds another kind than the one asked for (e.g. an image record, not pixels)."""


class Closed(ShmError, ValueError):
    """The mapping was closed: open it again to use it."""


class FrameOverwritten(ShmError):
    """A zero-copy view's frame was overwritten by a newer one: its bytes may be torn; read again."""
