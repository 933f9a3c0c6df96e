"""Opening mappings the four ways, closing, and the errors of bad input."""

from __future__ import annotations

import _thread
import os
import stat
import subprocess
import threading
import time

import numpy as np
import pytest

import shm_exchange as shx


def test_create_new_then_open_existing_then_create_or_open(name: str) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as created:
        assert created.created
        assert created.name == name
        assert created.path == f"/dev/shm/{name}"
        assert created.mapping_len_bytes == 1 << 20
        assert created.capacity_bytes == (1 << 20) - 4096
        assert created.recv() is None, "a new mapping holds no frame"
        with pytest.raises(shx.AlreadyExists, match="already exists"):
            shx.Mapping.create_new(name)
        with shx.Mapping.open(name) as opened:
            assert not opened.created
            assert opened.mapping_len_bytes == 1 << 20
        with shx.Mapping.create_or_open(name, capacity=2 << 20) as again:
            assert not again.created, "create_or_open opens what exists"
            assert again.mapping_len_bytes == 1 << 20


def test_from_file_creates_a_private_file_and_reopens_it(tmp_path) -> None:
    path = tmp_path / "frames.shm"
    with shx.Mapping.from_file(path, capacity=1 << 20) as m:
        assert m.name is None
        assert m.path == str(path)
        m.send_object({"hello": "file"})
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, "no access for group or others"
    with shx.Mapping.from_file(path) as m:
        assert m.recv().object == {"hello": "file"}, "the frame persists in the file"


def test_open_missing_raises_not_found_with_the_cli_message(name: str) -> None:
    with pytest.raises(shx.NotFound, match=f"no mapping named {name}.*start a writer first"):
        shx.Mapping.open(name)
    with pytest.raises(FileNotFoundError):  # also the built-in class
        shx.Mapping.open(name)


@pytest.mark.parametrize(
    ("bad", "message"),
    [("", "empty"), ("a/b", "contains '/'"), (".hidden", "starts with '.'"), ("x" * 31, "31 bytes long")],
)
def test_bad_names_raise_invalid_name(bad: str, message: str) -> None:
    with pytest.raises(shx.InvalidName, match=message):
        shx.Mapping.create_or_open(bad)


def test_capacity_out_of_range_says_the_range(name: str) -> None:
    with pytest.raises(shx.InvalidArgument, match="capacity of 100 bytes is out of range"):
        shx.Mapping.create_new(name, capacity=100)
    for bad in (-1, 2**64, 1.5):
        with pytest.raises(shx.InvalidArgument, match="capacity must be a number of bytes"):
            shx.Mapping.create_new(name, capacity=bad)
    assert not os.path.exists(f"/dev/shm/{name}"), "nothing is left behind"


def test_a_file_of_another_format_is_refused(tmp_path) -> None:
    path = tmp_path / "not-ours"
    path.write_bytes(b"NOPE" + bytes(8188))
    os.chmod(path, 0o600)
    with pytest.raises(shx.Corrupt, match='does not start with magic "SHMX"'):
        shx.Mapping.from_file(path)
    assert path.read_bytes()[:4] == b"NOPE", "the file is left as it was"


def test_a_closed_mapping_raises_closed(name: str) -> None:
    m = shx.Mapping.create_new(name, capacity=1 << 20)
    m.close()
    m.close()  # idempotent
    assert m.closed
    for call in (m.recv, lambda: m.send_object(1), lambda: m.wait(0.01), m.view,
                 lambda: m.send_pixels(np.zeros((2, 2), np.uint8), "GRAY8")):
        with pytest.raises(shx.Closed, match="the mapping is closed"):
            call()


def test_bad_pixel_arrays_raise_clear_errors(name: str) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        bgr = np.zeros((4, 5, 3), np.uint8)
        cases = [
            (bgr.astype(np.float32), "BGR8", "dtype uint8, got float32"),
            (bgr.astype(np.uint16), "BGR8", "dtype uint8, got uint16"),
            (bgr, "RGBA8", r"RGBA8 needs 4 channel\(s\).*shape \(4, 5, 3\)"),
            (np.zeros((4, 5), np.uint8), "RGB8", r"RGB8 needs 3 channel\(s\)"),
            (np.zeros((2, 4, 5, 3), np.uint8), "BGR8", r"HxW \(GRAY8\) or HxWxC, got shape \(2, 4, 5, 3\)"),
            (np.zeros((0, 5, 3), np.uint8), "BGR8", "has no pixels"),
            (bgr, "YUV420", "unknown pixel format"),
            (np.zeros((6, 4), np.uint8), "NV12", r"NV12 frames cannot be sent from one numpy array \(they are read as planes"),
            (bgr.tolist(), "BGR8", "must be a numpy.ndarray, got list"),
        ]
        for pixels, pixel_format, message in cases:
            with pytest.raises(shx.InvalidArgument, match=message):
                m.send_pixels(pixels, pixel_format)
        with pytest.raises(shx.TooLarge, match="does not fit the mapping's payload capacity"):
            m.send_pixels(np.zeros((1024, 1024, 3), np.uint8), "RGB8")
        assert m.recv() is None, "no bad input wrote a frame"


def test_bad_structs_and_objects_raise_clear_errors(name: str) -> None:
    with shx.Mapping.create_new(name, capacity=1 << 20) as m:
        m.send_test_data(shx.TestData(id=1))
        with pytest.raises(shx.InvalidArgument, match="exactly 10 scores, got 2"):
            m.send_test_data(shx.TestData(scores=[1, 2]))
        with pytest.raises(shx.InvalidArgument, match="int32 range"):
            m.send_test_data(shx.TestData(id=2**31))
        with pytest.raises(shx.InvalidArgument, match="not JSON-able"):
            m.send_object({"when": object()})
        with pytest.raises(shx.NotFound, match="does not exist|not found|no such"):
            m.send_image("/no/such/image.png")
        with pytest.raises(shx.InvalidArgument):
            m.send_image(__file__)  # a Python file is not an image
        with pytest.raises(shx.InvalidArgument, match="timeout must be a finite number of seconds"):
            m.wait(timeout=1e30)
        with pytest.raises(shx.InvalidArgument, match="timeout must be a finite number of seconds"):
            m.wait(timeout=-1)
        assert m.recv().test_data.id == 1, "the frame written before the bad input is intact"


def _lock_held_by_another_process(path: str) -> subprocess.Popen:
    """A process that holds the writer lock (an exclusive flock(2) on the mapping's
    file, as PROTOCOL.md says) until killed; returns once the lock is held."""
    holder = subprocess.Popen(["flock", "--exclusive", path, "sleep", "600"])
    deadline = time.monotonic() + 60
    while subprocess.run(["flock", "--nonblock", path, "true"]).returncode == 0:
        assert time.monotonic() < deadline, "the lock holder never took the lock"
        time.sleep(0.01)
    return holder


def test_a_send_waiting_for_another_writer_is_interrupted_by_ctrl_c(name: str) -> None:
    m = shx.Mapping.create_or_open(name, 1 << 20, lock_timeout=30.0)
    holder = _lock_held_by_another_process(f"/dev/shm/{name}")
    try:
        # Ctrl+C while the send waits: KeyboardInterrupt, not Busy after 30 s.
        threading.Timer(0.2, _thread.interrupt_main).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            m.send_test_data(shx.TestData(1, 2, list(range(10))))
        waited = time.monotonic() - started
        assert waited < 25, f"the interrupt came only with the lock timeout ({waited:.1f} s)"
        # The whole timeout still ends in Busy.
        m.close()
        m = shx.Mapping.open(name, lock_timeout=0.3)
        with pytest.raises(shx.Busy, match="300 ms"):
            m.send_test_data(shx.TestData(1, 2, list(range(10))))
    finally:
        holder.kill()
        holder.wait()
        m.close()
    assert m.closed
