"""Frames between processes: Python to Python, Python to the Rust `shm` CLI and back,
waiting (GIL released, timeouts), iteration, and the zero-copy view."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import shm_exchange as shx
from conftest import ASSETS, ask, finish, run_python, run_shm

# A sender in another process: each line on stdin names what to send; it answers
# with the frame number it wrote.
SENDER = """
import sys, numpy as np, shm_exchange as shx
m = shx.Mapping.open(sys.argv[1])
for line in sys.stdin:
    what, _, arg = line.strip().partition(" ")
    if what == "image": n = m.send_image(arg)
    elif what == "struct": n = m.send_test_data(shx.TestData(id=7, age=42, scores=list(range(-5, 5))))
    elif what == "object": n = m.send_object({"camera": "left", "tags": ["a", "b"], "exposure_ms": 8.5, "n": None})
    elif what == "pixels": n = m.send_pixels(np.load(arg), "BGR8", path="generated")
    print(n, flush=True)
"""


def gradient_bgr(height: int, width: int) -> np.ndarray:
    """A BGR image whose every pixel differs from its neighbours."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 7) % 256, (y * 3) % 256, (x + y) % 256], axis=-1).astype(np.uint8)


def test_python_to_python_every_kind(name: str, tmp_path: Path) -> None:
    pixels = gradient_bgr(1080, 1920)
    np.save(tmp_path / "pixels.npy", pixels)
    image = ASSETS / "collage-3500x2700.png"  # 9.6 MB
    with shx.Mapping.create_new(name, capacity=16 << 20) as m:
        sender = run_python(SENDER, name)
        number = int(ask(sender, f"image {image}"))
        frame = m.wait(timeout=30)
        assert (frame.number, frame.kind, frame.path) == (number, "image", str(image))
        assert frame.image_bytes == image.read_bytes(), "byte-identical image"
        assert frame.crc32 is not None, "the CRC was recorded and checked"

        ask(sender, "struct")
        assert m.wait(timeout=30).test_data == shx.TestData(id=7, age=42, scores=list(range(-5, 5)))

        ask(sender, "object")
        assert m.wait(timeout=30).object == {"camera": "left", "tags": ["a", "b"], "exposure_ms": 8.5, "n": None}

        number = int(ask(sender, f"pixels {tmp_path / 'pixels.npy'}"))
        frame = m.wait(timeout=30)
        assert (frame.number, frame.kind, frame.pixel_format, frame.path) == (number, "pixels", "BGR8", "generated")
        assert (frame.width, frame.height, frame.stride_bytes) == (1920, 1080, 1920 * 3)
        assert frame.capture_unix_nanos > 0, "the capture time defaults to the send time"
        assert np.array_equal(frame.pixels, pixels)
        assert not frame.pixels.flags.writeable, "the frame's own pixels are read-only"
        assert frame.pixels.copy().flags.writeable
        finish(sender)


def test_cli_to_python_images_structs_and_raw_pixels(name: str, shm_bin: Path) -> None:
    import cv2
    with shx.Mapping.create_new(name, capacity=16 << 20) as m:
        image = ASSETS / "collage-3500x2700.png"  # 9.6 MB
        run_shm(shm_bin, "send-image", "--name", name, str(image))
        frame = m.recv()
        assert frame.kind == "image" and frame.path == str(image)
        assert frame.image_bytes == image.read_bytes()

        run_shm(shm_bin, "send-struct", "--name", name, "--id", "9", "--age", "33", "--scores", "1,2,3,4,5,6,7,8,9,10")
        assert m.recv().test_data == shx.TestData(id=9, age=33, scores=list(range(1, 11)))

        # --raw: the CLI decodes the PNG into the mapping (RGB8 for this file).
        png = ASSETS / "chelsea-cat.png"
        run_shm(shm_bin, "send-image", "--name", name, "--raw", str(png))
        frame = m.recv()
        expected_rgb = cv2.cvtColor(cv2.imread(str(png), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert frame.pixel_format == "RGB8"
        assert np.array_equal(frame.pixels, expected_rgb)


def test_python_to_cli_images_objects_and_opencv_bgr(name: str, shm_bin: Path, tmp_path: Path) -> None:
    import cv2

    with shx.Mapping.create_new(name, capacity=16 << 20) as m:
        image = ASSETS / "rocket.jpg"
        m.send_image(image)
        out = tmp_path / "out.jpg"
        line = json.loads(run_shm(shm_bin, "recv", "--name", name, "--out", str(out)).stdout)
        assert (line["kind"], line["path"], line["image_format"]) == ("image", str(image), "jpeg")
        assert out.read_bytes() == image.read_bytes(), "byte-identical through the CLI"

        m.send_object({"camera": "left", "exposure_ms": 8.5})
        line = json.loads(run_shm(shm_bin, "recv", "--name", name).stdout)
        assert line["object"] == {"camera": "left", "exposure_ms": 8.5}

        # An OpenCV image (BGR) sent as BGR8: the CLI's PNG has the same colours.
        bgr = cv2.imread(str(ASSETS / "grace-hopper.jpg"), cv2.IMREAD_COLOR)
        m.send_pixels(bgr, "BGR8")
        png = tmp_path / "out.png"
        line = json.loads(run_shm(shm_bin, "recv", "--name", name, "--out", str(png)).stdout)
        assert (line["pixel_format"], line["width"], line["height"]) == ("BGR8", bgr.shape[1], bgr.shape[0])
        assert np.array_equal(cv2.imread(str(png), cv2.IMREAD_COLOR), bgr)

        # A padded, non-contiguous view (a crop) goes as packed rows.
        crop = bgr[10:200:2, 20:300]
        m.send_pixels(crop, "BGR8")
        frame = m.recv()
        assert frame.stride_bytes == crop.shape[1] * 3
        assert np.array_equal(frame.pixels, crop)


def test_wait_times_out_with_the_cli_message_and_releases_the_gil(name: str) -> None:
    """While one thread waits, the others run: the longest pause this thread sees in its
    own loop stays far below the wait (it would be the whole wait if the GIL were held)."""
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        failure = []

        def waiter() -> None:
            try:
                m.wait(timeout=2.0)
            except shx.Timeout as e:
                failure.append(e)

        thread = threading.Thread(target=waiter)
        longest_gap, last = 0.0, time.monotonic()
        thread.start()  # (with the GIL held by the waiter, this thread would stop here)
        while thread.is_alive():
            now = time.monotonic()
            longest_gap, last = max(longest_gap, now - last), now
        thread.join()
        assert len(failure) == 1 and str(failure[0]) == "no new frame within 2000 ms"
        assert isinstance(failure[0], TimeoutError)
        assert longest_gap < 1.0, f"this thread was blocked for {longest_gap:.2f} s of the 2 s wait"


def test_wait_returns_a_frame_sent_by_another_process(name: str, shm_bin: Path) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        got = []
        thread = threading.Thread(target=lambda: got.append(m.wait(timeout=60)))
        thread.start()
        # The wait is for a frame newer than the one present when `m` was opened, so
        # it cannot miss this one, whether it starts before or after the send.
        run_shm(shm_bin, "send-struct", "--name", name, "--id", "5")
        thread.join()
        assert got[0].number == 1 and got[0].test_data.id == 5


def test_frames_iterates_new_frames_in_order_until_the_timeout(name: str, shm_bin: Path) -> None:
    import subprocess

    with shx.Mapping.create_new(name, capacity=4 << 20) as m:
        stream = subprocess.Popen([str(shm_bin), "stream", "--name", name, "--fps", "100", "--count", "50",
                                   str(ASSETS / "rocket.jpg"), str(ASSETS / "chelsea-cat.png")],
                                  stdout=subprocess.DEVNULL)
        try:
            numbers = [m.wait(timeout=60).number]  # the stream has started
            # Then every new frame until none comes for 5 s (the stream has ended).
            numbers += [frame.number for frame in m.frames(timeout=5.0)]
            assert stream.wait(timeout=60) == 0
        finally:
            stream.kill()
        assert len(numbers) >= 2
        assert numbers == sorted(set(numbers)), "increasing, never the same frame twice"
        assert numbers[-1] == 50, "the last frame streamed is the last one seen"


def test_close_from_another_thread_ends_a_wait(name: str) -> None:
    m = shx.Mapping.create_new(name, capacity=1 << 20)
    outcome = []

    def waiter() -> None:
        try:
            m.wait()  # no timeout: only close() can end it
        except shx.Closed as e:
            outcome.append(e)

    thread = threading.Thread(target=waiter)
    thread.start()
    m.close()
    thread.join(timeout=60)
    assert not thread.is_alive() and "closed while waiting" in str(outcome[0])


def test_a_view_stays_on_the_memory_this_mapping_opened(name: str) -> None:
    """The view is numpy over shm-core's own mapping (no second map of the path), so a
    file made anew under the same path is never what it shows."""
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        m.send_pixels(np.full((8, 8), 5, np.uint8), "GRAY8")
        os.unlink(m.path)
        with shx.Mapping.create_new(name, capacity=1 << 20) as anew:
            anew.send_pixels(np.full((8, 8), 9, np.uint8), "GRAY8")
            with m.view() as array:
                assert array.shape == (8, 8) and int(array.max()) == 5


def test_a_view_is_the_mapping_itself_and_cannot_be_made_writable(name: str) -> None:
    first = gradient_bgr(120, 160)
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        m.send_pixels(first, "BGR8")
        view = m.view()
        assert type(view.array.base).__name__ == "MappingMemory", "numpy's base keeps the mapping"
        with pytest.raises(ValueError):
            view.array.setflags(write=True)
        with pytest.raises(ValueError):
            view.array[0, 0, 0] = 1
        # Another writer sends a frame of the same layout: the same array shows it
        # (no copy was made), and the view says it is no longer the frame it was.
        with shx.Mapping.open(name) as other:
            other.send_pixels(first[::-1].copy(), "BGR8")
        assert np.array_equal(view.array, first[::-1])
        assert not view.is_valid()


def test_fortran_order_and_transposed_arrays_arrive_as_numpy_shows_them(name: str) -> None:
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    bgr = gradient_bgr(20, 30)
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        for pixels, pixel_format in [(g.T, "GRAY8"), (np.asfortranarray(bgr), "BGR8"), (bgr[::-1, ::-1], "BGR8")]:
            m.send_pixels(pixels, pixel_format)
            assert np.array_equal(m.recv().pixels, pixels)


def test_zero_copy_view_is_checked(name: str, shm_bin: Path) -> None:
    pixels = gradient_bgr(480, 640)
    with shx.Mapping.create_new(name, capacity=4 << 20) as m:
        m.send_pixels(pixels, "BGR8")
        view = m.view()
        assert view.array.base is not None and not view.array.flags.writeable
        assert view.array.shape == (480, 640, 3) and view.pixel_format == "BGR8"
        with view as array:
            assert np.array_equal(array, pixels)
        assert np.array_equal(view.copy(), pixels)

        run_shm(shm_bin, "send-struct", "--name", name)  # another process overwrites it
        assert not view.is_valid()
        with pytest.raises(shx.FrameOverwritten, match="was overwritten while it was viewed"):
            view.check()
        with pytest.raises(shx.FrameOverwritten):
            with view as array:
                array.sum()
        with pytest.raises(shx.WrongKind, match="holds testdata, not pixels"):
            m.view()
        with pytest.raises(shx.WrongKind, match="the frame holds testdata, not pixels"):
            m.recv().pixels


def test_a_view_outlives_close_without_crashing(name: str) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        m.send_pixels(np.full((8, 8), 77, np.uint8), "GRAY8")
        array = m.view().array
    assert int(array.sum()) == 77 * 64, "the memory stays mapped while the array lives"


def _forge_corrupt_frame(path: str) -> int:
    """Makes the current frame look like a new one whose payload no longer matches its
    CRC-32 (one payload byte changed, `seq` moved on one frame, `notify` bumped), as a
    damaged writer could leave it. Returns the new frame's number."""
    import struct

    fd = os.open(path, os.O_RDWR)
    try:
        first = os.pread(fd, 1, 4096)
        os.pwrite(fd, bytes([first[0] ^ 0xFF]), 4096)
        (seq,) = struct.unpack("<Q", os.pread(fd, 8, 16))
        os.pwrite(fd, struct.pack("<Q", seq + 2), 16)
        (notify,) = struct.unpack("<I", os.pread(fd, 4, 64))
        os.pwrite(fd, struct.pack("<I", (notify + 1) & 0xFFFFFFFF), 64)
        return (seq + 2) // 2
    finally:
        os.close(fd)


def test_a_bad_frame_is_raised_once_then_waits_sleep_until_the_next(name: str) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        m.send_object({"n": 1})
        bad = _forge_corrupt_frame(m.path)
        with pytest.raises(shx.Corrupt, match="crc32 mismatch") as raised:
            m.wait(timeout=5)
        assert raised.value.seq == 2 * bad
        # The frame stays bad: the next wait sleeps past it (little CPU) until its timeout.
        cpu_before = time.process_time()
        with pytest.raises(shx.Timeout):
            m.wait(timeout=1.0)
        cpu = time.process_time() - cpu_before
        assert cpu < 0.2, f"{cpu:.2f} s of CPU while waiting 1 s on a stuck bad frame"
        m.send_object({"n": 2})
        assert m.wait(timeout=5).object == {"n": 2}


def test_frames_skips_a_bad_frame_with_one_warning(name: str) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        m.send_object({"n": 1})
        bad = _forge_corrupt_frame(m.path)
        with pytest.warns(RuntimeWarning, match=f"frame {bad} skipped: .*crc32 mismatch") as caught:
            got = list(m.frames(timeout=0.5))
        assert got == [] and len(caught) == 1


@pytest.mark.parametrize("transform", [
    lambda a: a[::-1],                  # rows flipped
    lambda a: a[:, ::-1],               # columns flipped
    lambda a: np.rot90(a),              # rotated
    lambda a: a[100:400, 50:600],       # cropped
    lambda a: a[::-1, ::-1][::2],       # both, every other row
])
def test_a_view_of_the_current_frame_sent_back_arrives_as_numpy_shows_it(name: str, transform) -> None:
    """The source of the send is the very frame it replaces: shm-core copies it out first.
    Before, rows 240..479 of a flipped view arrived as a mirror of rows 0..239, CRC valid."""
    pixels = gradient_bgr(480, 640)
    with shx.Mapping.create_new(name, capacity=4 << 20) as m:
        m.send_pixels(pixels, "BGR8")
        expected = transform(pixels).copy()
        view = m.view()
        m.send_pixels(transform(view.array), "BGR8")
        got = m.recv().pixels
        assert got.shape == expected.shape and np.array_equal(got, expected)


def test_a_view_from_another_mapping_object_of_the_same_file_is_copied_too(name: str) -> None:
    pixels = gradient_bgr(240, 320)
    with shx.Mapping.create_new(name, capacity=4 << 20) as writer, shx.Mapping.open(name) as other:
        writer.send_pixels(pixels, "BGR8")
        writer.send_pixels(other.view().array[::-1], "BGR8")
        assert np.array_equal(writer.recv().pixels, pixels[::-1])
