"""End-to-end, under X (run by .ci/e2e-gui inside Xvfb): GStreamer pipelines write
into mappings through shmexchangesink (gst-launch-1.0, its own process) and the real
reader app shows what they wrote.

    python crates/shm-gst/tests/reader_shows_gstreamer.py BIN_DIR PLUGIN.so OUT_DIR

1. A live NV12 stream of SMPTE colour bars: the reader must show the seven bars in
   their colours and order (white, yellow, cyan, green, magenta, red, blue), which it
   can only do if it reads NV12's two planes and converts Y'CbCr per BT.601.
2. A JPEG photograph through decodebin: the reader shows it at its size (its log) and
   the window shows the photograph (pixels equal to its decoded colours).

Screenshots are written to OUT_DIR. Each check waits for a state (a log line, a
screenshot that passes), never for a fixed time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[3]
BARS = ["white", "yellow", "cyan", "green", "magenta", "red", "blue"]
BAR_RGB = {"white": (255, 255, 255), "yellow": (255, 255, 0), "cyan": (0, 255, 255), "green": (0, 255, 0),
           "magenta": (255, 0, 255), "red": (255, 0, 0), "blue": (0, 0, 255)}


def wait_for(what: str, check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise SystemExit(f"FAIL: {what} within {seconds:.0f} s")


def screenshot(window: str):
    png = subprocess.run(["import", "-window", window, "png:-"], capture_output=True).stdout
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR) if png else None


class Reader:
    """The real reader app on mapping `name`, logging to a temporary file."""

    def __init__(self, bin_dir: Path, name: str) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.process = subprocess.Popen([str(bin_dir / "shm-reader"), "--name", name, "--position", "0,0"],
                                        stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"})
        try:
            self.window = wait_for("a reader window", lambda: subprocess.run(
                ["xdotool", "search", "--pid", str(self.process.pid), "--name", "^Shared Memory Reader"],
                capture_output=True, text=True).stdout.split()[:1])[0]
        except SystemExit:
            # Say why (once seen in CI: no window within 60 s), with the reader's own log.
            print(f"reader exit status: {self.process.poll()}; its log:\n{self.logged()}", file=sys.stderr)
            raise

    def logged(self) -> str:
        """Everything the reader has logged so far."""
        return Path(self.log.name).read_text()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.unlink(self.log.name)


def bars_in_order(shot) -> str | None:
    """The bars' colours found left to right in the screenshot, if all seven are there."""
    b, g, r = (shot[..., i].astype(int) for i in range(3))
    centres = []
    for bar in BARS:
        want = BAR_RGB[bar]
        close = (abs(r - want[0]) < 40) & (abs(g - want[1]) < 40) & (abs(b - want[2]) < 40)
        if close.sum() < 2000:
            return None
        centres.append((np.nonzero(close)[1].mean(), bar))
    order = [bar for _, bar in sorted(centres)]
    if order != BARS:
        raise SystemExit(f"FAIL: the reader shows the NV12 bars in the order {order}")
    return "ok"


def nv12_bars(bin_dir: Path, env: dict, out_dir: Path) -> None:
    name = f"e2e-gst-nv12-{os.getpid()}"
    reader = Reader(bin_dir, name)
    pipeline = subprocess.Popen(
        ["gst-launch-1.0", "-e", "videotestsrc", "is-live=true", "pattern=smpte", "!",
         "video/x-raw,format=NV12,width=640,height=360,framerate=30/1", "!", "shmexchangesink", f"mapping={name}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the reader logging an NV12 frame", lambda: "displayed frame" in reader.logged()
                 and "size=640x360" in reader.logged())
        def bars_shown():
            shot = screenshot(reader.window)
            return (shot,) if shot is not None and bars_in_order(shot) else None

        (shot,) = wait_for("a screenshot with the seven bars in order", bars_shown)
        cv2.imwrite(str(out_dir / "reader-gstreamer-nv12.png"), shot)
        print("reader shows GStreamer's NV12 colour bars in their colours and order")
    finally:
        pipeline.terminate()
        pipeline.wait()
        reader.close()
        Path(f"/dev/shm/{name}").unlink(missing_ok=True)


def jpeg_photograph(bin_dir: Path, env: dict, out_dir: Path) -> None:
    name = f"e2e-gst-jpeg-{os.getpid()}"
    photo = REPO / "assets" / "grace-hopper.jpg"
    reader = Reader(bin_dir, name)
    try:
        done = subprocess.run(
            ["gst-launch-1.0", "-e", "filesrc", f"location={photo}", "!", "decodebin", "!", "videoconvert", "!",
             "video/x-raw,format=RGB", "!", "imagefreeze", "num-buffers=1", "!", "shmexchangesink", f"mapping={name}"],
            env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"FAIL: the JPEG pipeline exited {done.returncode}: {done.stderr}")
        decoded = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        height, width = decoded.shape[:2]
        wait_for("the reader logging the photograph", lambda: f"size={width}x{height}" in reader.logged())

        def photograph_shown():
            # The reader fits the image in its panel: look for the photograph's
            # darkest and brightest regions' colours among the window's pixels by
            # comparing a scaled copy against the screenshot where it best matches.
            shot = screenshot(reader.window)
            if shot is None:
                return None
            for scale in np.linspace(1.0, 0.3, 36):
                scaled = cv2.resize(decoded, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
                if scaled.shape[0] > shot.shape[0] or scaled.shape[1] > shot.shape[1]:
                    continue
                score = cv2.matchTemplate(shot, scaled, cv2.TM_CCOEFF_NORMED).max()
                if score > 0.95:
                    return shot, scale, score
            return None

        shot, scale, score = wait_for("the photograph in the reader's window", photograph_shown)
        cv2.imwrite(str(out_dir / "reader-gstreamer-jpeg.png"), shot)
        print(f"reader shows the JPEG decoded by GStreamer: {width}x{height} at {scale:.2f}x, match {score:.3f}")
    finally:
        reader.close()
        Path(f"/dev/shm/{name}").unlink(missing_ok=True)


def main() -> None:
    bin_dir, plugin, out_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    plugin_dir = Path(tempfile.mkdtemp(prefix="gst-plugin-"))
    shutil.copy(plugin, plugin_dir / "libgstshmexchange.so")
    env = {**os.environ, "GST_PLUGIN_PATH": str(plugin_dir), "GST_REGISTRY": str(plugin_dir / "registry.bin")}
    try:
        nv12_bars(bin_dir, env, out_dir)
        jpeg_photograph(bin_dir, env, out_dir)
    finally:
        shutil.rmtree(plugin_dir)


if __name__ == "__main__":
    main()
