"""End-to-end, under X (run by .ci/e2e-gui inside Xvfb): an OpenCV-style BGR frame sent
from Python is shown by the real reader app with the right colours.

    python crates/shm-py/tests/reader_shows_bgr.py target/release/shm-reader [SCREENSHOT.png]

The frame is blue on the left half and red on the right, as BGR8 (OpenCV's order). If
the reader swapped the channels, the left half would show red. The check waits for the
reader's log line and then for a screenshot with both colours where they belong.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

import shm_exchange as shx


def wait_for(what: str, check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise SystemExit(f"FAIL: {what} within {seconds:.0f} s")


def main() -> None:
    reader = sys.argv[1]
    screenshot_path = sys.argv[2] if len(sys.argv) > 2 else None
    name = f"e2e-bgr-{os.getpid()}"
    bgr = np.zeros((360, 640, 3), np.uint8)
    bgr[:, :320] = (255, 0, 0)  # blue, in BGR
    bgr[:, 320:] = (0, 0, 255)  # red, in BGR
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    with shx.Mapping.create_new(name, capacity=4 << 20) as mapping:
        process = subprocess.Popen([reader, "--name", name, "--position", "0,0"], stdout=log,
                                   stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"})
        try:
            number = mapping.send_pixels(bgr, "BGR8", path="opencv-bgr")
            wait_for(f"the reader logging frame {number}",
                     lambda: f"displayed frame {number} " in open(log.name).read())
            window = wait_for("a reader window", lambda: subprocess.run(
                ["xdotool", "search", "--pid", str(process.pid), "--name", "^Shared Memory Reader"], capture_output=True, text=True
            ).stdout.split()[:1])[0]

            def colours_in_place():
                png = subprocess.run(["import", "-window", window, "png:-"], capture_output=True).stdout
                shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR) if png else None
                if shot is None:
                    return None
                b, g, r = (shot[..., i].astype(int) for i in range(3))
                blue = (b > 200) & (g < 60) & (r < 60)
                red = (r > 200) & (g < 60) & (b < 60)
                if blue.sum() < 5000 or red.sum() < 5000:
                    return None
                if np.nonzero(blue)[1].mean() >= np.nonzero(red)[1].mean():
                    raise SystemExit("FAIL: the reader shows red left of blue: BGR8 was shown as RGB")
                return shot, int(blue.sum()), int(red.sum())

            shot, blue_px, red_px = wait_for("a screenshot with blue left and red right", colours_in_place)
            if screenshot_path:
                cv2.imwrite(screenshot_path, shot)
            print(f"reader shows a Python/OpenCV BGR8 frame correctly: blue left ({blue_px} px), red right ({red_px} px)")
        finally:
            process.kill()
            process.wait()
            mapping.close()
            os.unlink(f"/dev/shm/{name}")
            os.unlink(log.name)


if __name__ == "__main__":
    main()
