"""GStreamer pipelines writing into a mapping (the shm-gst plugin's sink, run by
gst-launch-1.0 in its own process), read from Python: sizes, formats and pixels."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import shm_exchange as shx
from conftest import REPO


@pytest.fixture(scope="session")
def gst_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An environment whose GST_PLUGIN_PATH holds only the plugin the workspace built
    (cargo leaves it in target/debug/deps among other libraries), with its own registry."""
    built = [REPO / "target" / profile / "deps" / "libgstshmexchange.so" for profile in ("debug", "release")]
    found = [path for path in built if path.is_file()]
    if not found:
        pytest.fail(f"no plugin among {built}: build it with `cargo test --workspace` (or `cargo build -p shm-gst`)")
    if shutil.which("gst-launch-1.0") is None:
        pytest.fail("gst-launch-1.0 is missing: apt-get install gstreamer1.0-tools (.ci/run does)")
    plugin_dir = tmp_path_factory.mktemp("gst-plugin")
    shutil.copy(max(found, key=lambda path: path.stat().st_mtime), plugin_dir / "libgstshmexchange.so")
    return {**os.environ, "GST_PLUGIN_PATH": str(plugin_dir), "GST_REGISTRY": str(plugin_dir / "registry.bin")}


def gst_launch(env: dict, pipeline: str) -> None:
    done = subprocess.run(["gst-launch-1.0", "-e", *pipeline.split()], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"gst-launch-1.0 {pipeline} exited {done.returncode}: {done.stderr}"


def test_videotestsrc_in_a_solid_colour_arrives_with_its_size_format_and_pixels(name: str, gst_env: dict) -> None:
    gst_launch(gst_env, f"videotestsrc num-buffers=3 pattern=solid-color foreground-color=0xff204060 "
                        f"! video/x-raw,format=BGR,width=321,height=200 ! shmexchangesink mapping={name}")
    with shx.Mapping.open(name) as m:
        frame = m.recv()
        assert (frame.number, frame.pixel_format, frame.width, frame.height) == (3, "BGR8", 321, 200)
        assert frame.stride_bytes == 964, "GStreamer's padded rows, kept"
        assert frame.pixels.shape == (200, 321, 3)
        assert (frame.pixels == np.array([0x60, 0x40, 0x20], np.uint8)).all(), "B, G, R of 0x204060"


@pytest.mark.parametrize("pixel_format, plane_shapes", [
    ("NV12", [(241, 321), (121, 161, 2)]),
    ("I420", [(241, 321), (121, 161), (121, 161)]),
    ("YUY2", [(241, 161, 4)]),
])
def test_yuv_frames_arrive_as_planes(name: str, gst_env: dict, pixel_format: str, plane_shapes: list) -> None:
    # Full-intensity red in BT.601, limited range: Y 81, Cb 90, Cr 240.
    gst_launch(gst_env, f"videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xffff0000 "
                        f"! video/x-raw,format={pixel_format},width=321,height=241 ! shmexchangesink mapping={name}")
    with shx.Mapping.open(name) as m:
        for planes in (m.recv().planes, m.view().planes):
            assert [plane.shape for plane in planes] == plane_shapes
            assert all(not plane.flags.writeable for plane in planes)
            if pixel_format == "YUY2":
                samples = planes[0].reshape(-1, 4)
                luma, cb, cr = samples[:, [0, 2]], samples[:, 1], samples[:, 3]
            else:
                luma = planes[0]
                chroma = planes[1] if pixel_format == "NV12" else np.stack(planes[1:], axis=-1)
                cb, cr = chroma[..., 0], chroma[..., 1]
            # The median: an odd width's last YUY2 pair is half padding.
            assert [int(np.median(p)) for p in (luma, cb, cr)] == [81, 90, 240]
        with pytest.raises(shx.WrongKind, match=f"{pixel_format} pixels in {len(plane_shapes)} planes") if len(plane_shapes) > 1 else _no_error():
            m.recv().pixels


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False
