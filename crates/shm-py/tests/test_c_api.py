"""The C API (libshm_exchange) and Python in two processes: the C examples'
writer and reader (examples/c) exchange a real photograph, pixel frames and
TestData with this package. The library is the one `cargo test --workspace`
built (target/debug/deps), or $SHM_FFI_LIB_DIR."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

import shm_exchange as shx
from conftest import ASSETS, REPO


def lib_dir() -> Path:
    candidates = [os.environ.get("SHM_FFI_LIB_DIR")] if os.environ.get("SHM_FFI_LIB_DIR") else []
    # cargo test builds the library in deps/ (it copies it up only on cargo build).
    candidates += [str(REPO / "target" / "debug" / "deps"), str(REPO / "target" / "debug")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "libshm_exchange.so").is_file():
            return Path(candidate)
    pytest.fail(f"no libshm_exchange.so in {candidates}: run `cargo test --workspace` (or `cargo build -p shm-ffi`) first")


@pytest.fixture(scope="module")
def c_programs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """examples/c/writer.c and reader.c, built with gcc against the library."""
    gcc = shutil.which("gcc")
    assert gcc, "gcc is not installed: apt-get install gcc"
    out = tmp_path_factory.mktemp("c")
    lib = lib_dir()
    programs = {}
    for program in ["writer", "reader"]:
        subprocess.run([gcc, "-std=c11", "-Wall", "-Werror", "-I", str(REPO / "crates/shm-ffi/include"),
                        str(REPO / "examples" / "c" / f"{program}.c"), "-o", str(out / program),
                        f"-L{lib}", "-lshm_exchange", f"-Wl,--disable-new-dtags,-rpath,{lib}"],
                       check=True, capture_output=True)
        programs[program] = out / program
    return programs


def c_pattern(width: int, height: int) -> np.ndarray:
    """The writer example's BGR pattern: B = x, G = y, R = x + y (mod 256)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)


def test_a_c_writer_reaches_python(name: str, c_programs: Dict[str, Path]) -> None:
    photo = ASSETS / "grace-hopper.jpg"
    with shx.Mapping.create_new(name) as m:
        done = subprocess.run([c_programs["writer"], name, "image", str(photo)], capture_output=True, text=True, check=True)
        assert done.stdout == "sent frame 1\n"
        frame = m.recv()
        assert (frame.kind, frame.path) == ("image", str(photo))
        assert frame.image_bytes == photo.read_bytes()

        subprocess.run([c_programs["writer"], name, "struct", "7", "33"], check=True, capture_output=True)
        assert m.recv().test_data == shx.TestData(id=7, age=33, scores=list(range(60, 70)))

        for how in ["pixels", "loan"]:
            subprocess.run([c_programs["writer"], name, how, "301", "97"], check=True, capture_output=True)
            frame = m.recv()
            assert (frame.kind, frame.pixel_format, frame.path) == ("pixels", "BGR8", "c-pattern"), how
            assert frame.stride_bytes == 960, "rows padded to a multiple of 64 bytes"
            assert np.array_equal(frame.pixels, c_pattern(301, 97)), how


def start_reader(reader: Path, name: str, out: Path) -> subprocess.Popen:
    """The C reader, once it says it waits (its first line)."""
    process = subprocess.Popen([reader, name, "1", "60000", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("ready at frame"), first
    return process


def reader_said(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def test_python_reaches_a_c_reader(name: str, c_programs: Dict[str, Path], tmp_path: Path) -> None:
    import cv2
    out = tmp_path / "received"
    with shx.Mapping.create_new(name, capacity=16 << 20) as m:
        photo = ASSETS / "coffee-1920x1080.png"
        reader = start_reader(c_programs["reader"], name, out)
        m.send_image(photo)
        assert f"image {photo}, {photo.stat().st_size} bytes" in reader_said(reader)
        assert out.read_bytes() == photo.read_bytes()

        bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        reader = start_reader(c_programs["reader"], name, out)
        m.send_pixels(bgr, "BGR8", path="from python")
        assert "pixels 1920x1080 format 4 stride 5760, from python" in reader_said(reader)
        assert out.read_bytes() == bgr.tobytes(), "the photograph's pixels, equal"

        reader = start_reader(c_programs["reader"], name, out)
        m.send_test_data(shx.TestData(id=3, age=4, scores=list(range(10))))
        assert "Id=3,Age=4,Scores=0,1,2,3,4,5,6,7,8,9" in reader_said(reader)
