"""Send and receive frames between processes through shared memory (Linux).

A *mapping* is a named file in ``/dev/shm`` (or any file) that every process
maps; it holds one *frame* at a time: an image file's bytes with its path, a
48-byte ``TestData``, raw pixels (a numpy array with its pixel format), or a
JSON-able object. Readers never see a torn frame; waiting for the next frame
sleeps in the kernel (no polling) with the GIL released. The same mappings are
read and written by the ``shm`` command line and the shm-exchange reader and
writer apps.

    import numpy as np, shm_exchange as shx

    with shx.Mapping.create_or_open("camera", capacity=16 << 20) as m:
        m.send_pixels(np.zeros((1080, 1920, 3), np.uint8), "BGR8")   # e.g. from OpenCV

    with shx.Mapping.open("camera") as m:
        frame = m.recv()                      # newest frame, copied (or None)
        print(frame.number, frame.pixels.shape)       # (1080, 1920, 3)
        for frame in m.frames(timeout=5.0):   # each new frame; ends after 5 s without one
            ...

Errors are :class:`ShmError` subclasses (see :mod:`shm_exchange.errors`).
The wire format is specified in docs/PROTOCOL.md of the shm-exchange repository.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Optional, Union

import numpy as np

from . import _native
from . import errors
from .errors import *  # noqa: F401,F403 (the exception classes, listed in errors.__all__)

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_NAME",
    "PIXEL_FORMATS",
    "Frame",
    "Mapping",
    "PixelsView",
    "TestData",
    *errors.__all__,
]

#: The mapping name the apps and the CLI use when none is given.
DEFAULT_NAME: str = _native.DEFAULT_NAME
#: Size of a mapping created without ``capacity``: 10 MiB, 4,096 bytes of it header.
DEFAULT_CAPACITY: int = _native.DEFAULT_MAPPING_LEN_BYTES
#: Pixel formats numpy arrays are sent in, and their channels per pixel (one
#: byte each). Frames may also arrive as NV12, I420 or YUY2 (from cameras and
#: GStreamer): read those with :attr:`Frame.planes`.
PIXEL_FORMATS = {"RGBA8": 4, "BGRA8": 4, "RGB8": 3, "BGR8": 3, "GRAY8": 1}



@dataclass
class TestData:
    """The fixed 48-byte struct (kind 2): ``id``, ``age`` and exactly ten ``scores``,
    each a signed 32-bit integer. The defaults are the apps' seed values."""

    __test__ = False  # not a pytest test class

    id: int = 100
    age: int = 20
    scores: List[int] = field(default_factory=lambda: list(range(60, 70)))


class Frame:
    """One frame, copied out of the mapping: it never changes, whatever writers do next.

    Attributes common to every kind: ``kind`` (``"image"``, ``"testdata"``,
    ``"pixels"`` or ``"object"``), ``number`` (frame number, counts up by one per
    frame written), ``seq`` (the sequence word, ``2 * number``), ``writer_pid``,
    ``written_unix_nanos`` (when the writer completed it, ns since the Unix
    epoch), ``crc32`` (checked on read, or None) and ``payload`` (the raw bytes).
    The accessors of another kind raise :class:`WrongKind`.
    """

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        self._native = native

    @property
    def kind(self) -> str:
        return self._native.kind

    @property
    def seq(self) -> int:
        return self._native.seq

    @property
    def number(self) -> int:
        return self._native.seq // 2

    @property
    def writer_pid(self) -> int:
        return self._native.writer_pid

    @property
    def written_unix_nanos(self) -> int:
        return self._native.written_unix_nanos

    @property
    def crc32(self) -> Optional[int]:
        return self._native.crc32

    @property
    def payload(self) -> bytes:
        """The payload's bytes (a copy; see the kind's accessors for its parts)."""
        return self._native.payload.tobytes()

    @property
    def path(self) -> Optional[str]:
        """The sender's path: the image file's path (image frames), the path text
        sent with the pixels (pixels frames, may be ""), else None."""
        return self._native.path

    def _wrong_kind(self, wanted: str) -> WrongKind:
        return WrongKind(f"the frame holds {self.kind}, not {wanted}")

    @property
    def image_bytes(self) -> bytes:
        """The image file's bytes, unchanged (kind ``"image"``; a copy)."""
        image = self._native.image_bytes
        if image is None:
            raise self._wrong_kind("image")
        return image

    @property
    def test_data(self) -> TestData:
        """The struct (kind ``"testdata"``)."""
        fields = self._native.test_data
        if fields is None:
            raise self._wrong_kind("testdata")
        id_, age, scores = fields
        return TestData(id=id_, age=age, scores=list(scores))

    @property
    def object(self) -> Any:
        """The object (kind ``"object"``), as ``json.loads`` gives it."""
        text = self._native.object_json
        if text is None:
            raise self._wrong_kind("object")
        return json.loads(text)

    def _layout(self) -> Any:
        layout = self._native.pixel_layout
        if layout is None:
            raise self._wrong_kind("pixels")
        return layout

    @property
    def width(self) -> int:
        """Width in pixels (kind ``"pixels"``)."""
        return self._layout().width

    @property
    def height(self) -> int:
        """Height in pixels (rows; kind ``"pixels"``)."""
        return self._layout().height

    @property
    def stride_bytes(self) -> int:
        """Bytes from one row's start to the next's (kind ``"pixels"``)."""
        return self._layout().stride_bytes

    @property
    def pixel_format(self) -> str:
        """``"RGBA8"``, ``"BGRA8"``, ``"RGB8"``, ``"BGR8"``, ``"GRAY8"``, or one of the
        YUV formats ``"NV12"``, ``"I420"``, ``"YUY2"`` (kind ``"pixels"``)."""
        return self._layout().pixel_format

    @property
    def capture_unix_nanos(self) -> int:
        """When the pixels were captured, ns since the Unix epoch; 0 if unknown."""
        return self._layout().capture_unix_nanos

    @property
    def pixels(self) -> np.ndarray:
        """The pixels (kind ``"pixels"``): a read-only uint8 array of shape HxW
        (GRAY8) or HxWxC, channels in the order the pixel format names (BGR8 is
        what OpenCV uses). It shares this frame's private copy, not the mapping:
        it never changes. ``frame.pixels.copy()`` gives a writable array."""
        planes = self.planes
        if len(planes) != 1:
            raise WrongKind(
                f"frame {self.number} holds {self.pixel_format} pixels in {len(planes)} planes: "
                "use frame.planes"
            )
        return planes[0]

    @property
    def planes(self) -> List[np.ndarray]:
        """The pixel block's planes (kind ``"pixels"``), each a read-only uint8 array
        with its own stride, sharing this frame's private copy: ``[pixels]`` for the
        packed formats; for NV12 the Y plane (HxW) and the CbCr plane (ceil(H/2) x
        ceil(W/2) x 2); for I420 Y, Cb and Cr (each chroma plane ceil(H/2) x
        ceil(W/2)); for YUY2 one plane of H x ceil(W/2) x 4 (Y0 Cb Y1 Cr per pair
        of pixels). YUV samples are BT.601, limited range."""
        self._layout()  # raises WrongKind for other kinds
        return list(self._native.planes)

    def __repr__(self) -> str:
        detail = ""
        if self.kind == "pixels":
            detail = f", {self.width}x{self.height} {self.pixel_format}"
        elif self.kind == "image":
            detail = f", path={self.path!r}"
        return f"<Frame {self.number} {self.kind}{detail}, {self._native.payload.nbytes} bytes>"


class PixelsView:
    """A zero-copy, read-only view of the pixels frame in the mapping.

    ``array`` is a numpy array over the shared memory itself (for NV12 and I420
    the Y plane; ``planes`` has every plane, as :attr:`Frame.planes`): reading it costs
    no copy, but a writer may overwrite the frame at any time. Validity is
    checked, never assumed: :meth:`check` raises :class:`FrameOverwritten` once a
    newer frame has started, so call it *after* using the data (or use the view
    as a context manager, which checks on leaving the block)::

        with mapping.view() as pixels:        # pixels: read-only ndarray
            mean = pixels.mean()              # if overwritten meanwhile, the with raises
    """

    def __init__(self, mapping: "Mapping", planes: List[np.ndarray], seq: int, written_unix_nanos: int,
                 pixel_format: str, capture_unix_nanos: int, path: str) -> None:
        self._mapping = mapping
        self.planes = planes
        self.array = planes[0]
        self.seq = seq
        self.number = seq // 2
        self.written_unix_nanos = written_unix_nanos
        self.pixel_format = pixel_format
        self.capture_unix_nanos = capture_unix_nanos
        self.path = path

    def is_valid(self) -> bool:
        """Whether the frame is still the mapping's current one (no newer write has started)."""
        return self._mapping._native.frame_is_current(self.seq)

    def check(self) -> None:
        """Raises :class:`FrameOverwritten` if the frame was overwritten since the view was made.

        What was read from ``array`` before a successful ``check`` is one whole frame."""
        if not self.is_valid():
            raise FrameOverwritten(
                f"frame {self.number} was overwritten while it was viewed; its pixels may be torn: "
                "read again (or use mapping.recv() for a copy)"
            )

    def copy(self) -> np.ndarray:
        """A private, writable copy of the pixels, checked to be one whole frame."""
        copied = self.array.copy()
        self.check()
        return copied

    def __enter__(self) -> np.ndarray:
        return self.array

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.check()

    def __repr__(self) -> str:
        h, w = self.array.shape[:2]
        return f"<PixelsView of frame {self.number}, {w}x{h} {self.pixel_format}>"


class Mapping:
    """An open mapping. Make one with :meth:`create_new`, :meth:`create_or_open`,
    :meth:`open` or :meth:`from_file`; use it as a context manager (or call
    :meth:`close`). Closing unmaps it for this process only: the mapping stays
    for the others (remove it with ``shm rm NAME``).

    ``capacity`` is the mapping's size in bytes when it is created, its 4,096-byte
    header included (the CLI's ``--capacity``); the largest payload is
    :attr:`capacity_bytes`. ``lock_timeout`` (seconds) is how long a send waits
    for another writer before raising :class:`Busy`.
    """

    def __init__(self, native: Any) -> None:
        """Private: use the class methods."""
        self._native = native
        self._last_seq: int = native.seq()

    @classmethod
    def _open(cls, opener: Any, target: Union[str, "os.PathLike[str]"], capacity: Optional[int], lock_timeout: float) -> "Mapping":
        if capacity is None:
            return cls(opener(os.fspath(target), float(lock_timeout)))
        if not isinstance(capacity, int) or not 0 <= capacity < 2**64:
            raise InvalidArgument(f"capacity must be a number of bytes, got {capacity!r}")
        return cls(opener(os.fspath(target), capacity, float(lock_timeout)))

    @classmethod
    def create_new(cls, name: str, capacity: int = DEFAULT_CAPACITY, *, lock_timeout: float = 5.0) -> "Mapping":
        """Creates the mapping ``/dev/shm/<name>``; raises :class:`AlreadyExists` if it exists.

        Raises :class:`InvalidName`, :class:`InvalidArgument` (capacity out of range),
        :class:`NoSpace`, :class:`AlreadyExists`."""
        return cls._open(_native.NativeMapping.create_new, name, capacity, lock_timeout)

    @classmethod
    def create_or_open(cls, name: str = DEFAULT_NAME, capacity: int = DEFAULT_CAPACITY, *,
                       lock_timeout: float = 5.0) -> "Mapping":
        """Opens the mapping ``/dev/shm/<name>``, creating it (``capacity`` bytes) if missing.

        Raises :class:`InvalidName`, :class:`InvalidArgument`, :class:`NoSpace`,
        :class:`Corrupt` (not one of ours), :class:`PermissionDenied`."""
        return cls._open(_native.NativeMapping.create_or_open, name, capacity, lock_timeout)

    @classmethod
    def open(cls, name: str = DEFAULT_NAME, *, lock_timeout: float = 5.0) -> "Mapping":
        """Opens an existing mapping ``/dev/shm/<name>``; raises :class:`NotFound` if there is none.

        Raises :class:`InvalidName`, :class:`NotFound`, :class:`Corrupt`, :class:`PermissionDenied`."""
        return cls._open(_native.NativeMapping.open_existing, name, None, lock_timeout)

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"], capacity: int = DEFAULT_CAPACITY, *,
                  lock_timeout: float = 5.0) -> "Mapping":
        """Opens a file-backed mapping at ``path``, creating the file (``capacity`` bytes, mode 0600) if missing.

        Raises :class:`InvalidArgument`, :class:`NoSpace`, :class:`Corrupt`, :class:`PermissionDenied`."""
        return cls._open(_native.NativeMapping.from_file, path, capacity, lock_timeout)

    # -- state ---------------------------------------------------------------

    @property
    def name(self) -> Optional[str]:
        """The mapping's name, or None for a file-backed mapping."""
        return self._native.name

    @property
    def path(self) -> str:
        """The file behind the mapping (``/dev/shm/<name>`` for a named one)."""
        return self._native.path

    @property
    def capacity_bytes(self) -> int:
        """The largest payload, in bytes (the mapping's size minus its 4,096-byte header)."""
        return self._native.capacity_bytes

    @property
    def mapping_len_bytes(self) -> int:
        """The mapping's size in bytes, header included."""
        return self._native.mapping_len_bytes

    @property
    def created(self) -> bool:
        """Whether this open created the mapping."""
        return self._native.created

    @property
    def closed(self) -> bool:
        return self._native.closed

    @property
    def frame_number(self) -> int:
        """The number of the newest frame (0: nothing written yet; odd seq mid-write rounds down)."""
        return self._native.seq() // 2

    def writer_alive(self) -> bool:
        """Whether the process that wrote the last frame still runs."""
        return self._native.writer_alive()

    def close(self) -> None:
        """Unmaps the mapping for this object (idempotent). Views still in use keep their memory mapped."""
        self._native.close()

    def __enter__(self) -> "Mapping":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<Mapping (closed)>"
        where = self.name if self.name is not None else self.path
        return f"<Mapping {where!r}, capacity {self.capacity_bytes} bytes, frame {self.frame_number}>"

    # -- sending -------------------------------------------------------------

    def send_image(self, path: Union[str, "os.PathLike[str]"], data: Optional[bytes] = None) -> int:
        """Sends an image record (kind 1): the file at ``path`` read whole (checked to
        be an image: PNG, JPEG, GIF, BMP, WebP, TIFF, ICO, TGA, PNM, QOI) with its
        absolute path, or ``data`` as the image's bytes with ``path`` as its label.
        Returns the frame number.

        Raises :class:`NotFound`, :class:`InvalidArgument` (not an image),
        :class:`TooLarge`, :class:`Busy`, :class:`Closed`."""
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"data must be bytes, got {type(data).__name__}")
        return self._native.send_image(os.fspath(path), None if data is None else bytes(data))

    def send_test_data(self, data: TestData) -> int:
        """Sends a :class:`TestData` (kind 2, 48 bytes). Returns the frame number.

        Raises :class:`InvalidArgument` (not 10 scores, a value outside int32), :class:`Busy`, :class:`Closed`."""
        scores = list(data.scores)
        if len(scores) != 10:
            raise InvalidArgument(f"TestData needs exactly 10 scores, got {len(scores)}")
        values = [data.id, data.age, *scores]
        if not all(isinstance(v, int) and -(2**31) <= v < 2**31 for v in values):
            raise InvalidArgument(f"TestData fields must be integers in the int32 range, got {data!r}")
        return self._native.send_test_data(data.id, data.age, scores)

    def send_object(self, obj: Any) -> int:
        """Sends a JSON-able object (dicts, lists, str, numbers, bools, None) as
        MessagePack (kind 4). Returns the frame number.

        Raises :class:`InvalidArgument` (not JSON-able), :class:`TooLarge`, :class:`Busy`, :class:`Closed`."""
        try:
            text = json.dumps(obj, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"object is not JSON-able: {e}") from None
        return self._native.send_object_json(text)

    def send_pixels(self, pixels: np.ndarray, pixel_format: str, *, path: str = "",
                    capture_unix_nanos: Optional[int] = None) -> int:
        """Sends raw pixels (kind 3), copied once, straight into the mapping.

        ``pixels`` is a uint8 array of shape HxW (GRAY8), or HxWxC with C matching
        ``pixel_format``: 4 for ``"RGBA8"``/``"BGRA8"``, 3 for ``"RGB8"``/``"BGR8"``
        (OpenCV's images are BGR8), 1 for ``"GRAY8"``. Any strides are accepted
        (a non-contiguous array is gathered element by element, slower); the frame's
        rows are packed (stride = W * C). ``capture_unix_nanos`` is when the pixels
        were captured (ns since the Unix epoch; default: now). ``path`` is an
        optional label. Returns the frame number.

        The copy runs with the GIL held (no thread can change the array
        meanwhile); waiting for another writer does not hold it.

        Raises :class:`InvalidArgument` (not an ndarray, dtype not uint8, wrong shape
        or channels, unknown pixel format), :class:`TooLarge` (over the capacity),
        :class:`Busy`, :class:`Closed`."""
        if capture_unix_nanos is None:
            capture_unix_nanos = time.time_ns()
        return self._native.send_pixels(pixels, pixel_format, path, capture_unix_nanos)

    # -- receiving -----------------------------------------------------------

    def recv(self) -> Optional[Frame]:
        """The newest frame, copied out (one copy); None if nothing was written yet.
        Never a torn frame: it retries while a writer is mid-frame (up to 1 s).

        Raises :class:`Busy`, :class:`WriterDied`, :class:`Corrupt`, :class:`Closed`."""
        native = self._native.recv()
        if native is None:
            return None
        self._last_seq = native.seq
        return Frame(native)

    def wait(self, timeout: Optional[float] = None, *, after: Union[Frame, int, None] = None) -> Frame:
        """Waits for a frame newer than ``after`` (a :class:`Frame` or a frame
        number; default: the newest frame this object returned, or the one present
        when it was opened) and returns it, copied. Sleeps in the kernel with the
        GIL released; Ctrl+C interrupts it. ``timeout`` in seconds, None: forever.
        When frames come faster than you wait, you get the newest (compare
        ``number``s to count the ones skipped). A writer that dies mid-frame
        leaves no new frame: the wait goes on until ``timeout`` (or the next
        writer's frame). :meth:`close` from another thread ends the wait with
        :class:`Closed`.

        Raises :class:`Timeout`, :class:`WriterDied` (a writer died while the new
        frame was being read), :class:`Corrupt` (the new frame fails its checks),
        :class:`Closed`. A bad frame is raised once: the next :meth:`wait` waits
        for the frame after it instead of raising again."""
        if after is None:
            after_seq = self._last_seq
        elif isinstance(after, Frame):
            after_seq = after.seq
        else:
            after_seq = 2 * int(after)
        try:
            native = self._native.wait(after_seq, None if timeout is None else float(timeout))
        except (Corrupt, WriterDied) as bad:
            # The native follower says which frame was bad: wait past it next.
            self._last_seq = getattr(bad, "seq", self._last_seq)
            raise
        self._last_seq = native.seq
        return Frame(native)

    def frames(self, timeout: Optional[float] = None) -> Iterator[Frame]:
        """Yields each new frame as it arrives (the newest one when several came
        while you were busy), starting after the newest one already seen. Ends when
        no frame arrives within ``timeout`` seconds (None: never ends). A frame that
        fails its checks (:class:`Corrupt`, :class:`WriterDied`) is skipped with one
        :class:`RuntimeWarning` naming it, and the iteration goes on."""
        while True:
            try:
                yield self.wait(timeout)
            except Timeout:
                return
            except (Corrupt, WriterDied) as bad:
                warnings.warn(f"frame {(self._last_seq + 1) // 2} skipped: {bad}", RuntimeWarning, stacklevel=2)

    def view(self) -> PixelsView:
        """A zero-copy, read-only view of the newest frame's pixels, in the mapping
        itself (see :class:`PixelsView`: check it after use).

        Raises :class:`WrongKind` (the frame is not pixels), :class:`FrameOverwritten`
        (overwritten while the view was made), :class:`Busy`, :class:`Corrupt`, :class:`Closed`."""
        peek = self._native.pixels_view()
        layout = peek.layout
        view = PixelsView(self, list(peek.planes), peek.seq, peek.written_unix_nanos, layout.pixel_format,
                          layout.capture_unix_nanos, peek.path)
        view.check()
        self._last_seq = peek.seq
        return view
