"""Streams OpenCV frames to the shm-exchange reader app at a steady rate.

    python examples/python/stream_opencv.py [--name shm-exchange] [--fps 30] [--seconds 10]
                                            [--size 1280x720] [--video FILE]

Frames come from a video file (``--video``, any format OpenCV reads, looped) or
are drawn with OpenCV: the sample photographs of assets/ panning by, with a
moving marker and the frame number. Each is sent as BGR8, OpenCV's own channel
order, straight from the numpy array; the reader app (``cargo run --release -p
shm-reader``, or ``cargo run --release`` for both apps) shows it as it arrives.
Pacing is on the monotonic clock: a late frame is not made up for.
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import cv2
import numpy as np

import shm_exchange as shx

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets")


def drawn_frames(width: int, height: int):
    """Endless frames: sample photographs panning by, a moving dot, the frame number."""
    photos = [cv2.imread(p, cv2.IMREAD_COLOR) for p in sorted(glob.glob(os.path.join(ASSETS, "*.jpg")))]
    photos = [cv2.resize(p, (width, height)) for p in photos if p is not None]
    if not photos:
        photos = [np.full((height, width, 3), 64, np.uint8)]
    strip = np.concatenate(photos, axis=1)
    number = 0
    while True:
        x = (number * 8) % (strip.shape[1] - width + 1)
        frame = strip[:, x : x + width].copy()
        t = number / 30.0
        centre = (int(width / 2 + width / 3 * np.cos(t)), int(height / 2 + height / 3 * np.sin(t)))
        cv2.circle(frame, centre, max(8, height // 20), (0, 0, 255), -1)  # red in BGR
        cv2.putText(frame, f"frame {number}", (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        yield frame
        number += 1


def video_frames(path: str):
    """Endless frames from a video file, looped."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise SystemExit(f"stream_opencv: error: OpenCV cannot open the video {path!r}")
    while True:
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
            if not ok:
                raise SystemExit(f"stream_opencv: error: the video {path!r} has no frames")
        yield frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=shx.DEFAULT_NAME, help="mapping name (default %(default)s)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT of drawn frames (default %(default)s)")
    parser.add_argument("--video", help="a video file to stream instead of drawn frames")
    args = parser.parse_args()
    if not 0 < args.fps <= 1000:
        parser.error(f"--fps must be in (0, 1000], got {args.fps}")
    width, height = (int(v) for v in args.size.lower().split("x"))
    frames = video_frames(args.video) if args.video else drawn_frames(width, height)

    first = next(frames)
    capacity = max(shx.DEFAULT_CAPACITY, 4096 + 32 + first.nbytes + 4096)
    period = 1.0 / args.fps
    with shx.Mapping.create_or_open(args.name, capacity=capacity) as mapping:
        started = time.monotonic()
        sent = 0
        frame = first
        while args.seconds is None or time.monotonic() - started < args.seconds:
            mapping.send_pixels(frame, "BGR8", path=args.video or "stream_opencv.py")
            sent += 1
            frame = next(frames)
            deadline = started + sent * period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        elapsed = time.monotonic() - started
        print(f"sent {sent} frames in {elapsed:.1f} s ({sent / elapsed:.1f} fps) to {mapping.path}")


if __name__ == "__main__":
    main()
