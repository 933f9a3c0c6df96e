"""Sending and receiving one 1920x1080 BGR frame (6,220,800 bytes) from Python:
shm_exchange against what a Python user would do otherwise, and against the
same steps in Rust (`shm-pixels-bench`, run here in the same session).

    python examples/python/benchmark.py [--iterations N] [--rust target/release/shm-pixels-bench]

Rows (p50 and p99 in microseconds, one frame per iteration, one process unless said):
- shm_exchange send_pixels: the array copied into the mapping (GIL held, CRC-32 computed).
- shm_exchange recv: the frame copied out into a new ndarray (CRC checked on the copy).
- shm_exchange view: the zero-copy view made and checked (no copy).
- multiprocessing.shared_memory: the array copied into a SharedMemory block, and
  copied out into a new array (no synchronisation or framing at all).
- pickle over a pipe / a socket pair: pickle.dumps + send to a second process that
  unpickles and acks: one round trip per frame.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing import shared_memory
from typing import Callable, Dict, List

import numpy as np

import shm_exchange as shx


def percentiles(micros: List[float]) -> Dict[str, float]:
    ordered = sorted(micros)
    at = lambda q: ordered[round((len(ordered) - 1) * q)]  # noqa: E731
    return {"p50_us": at(0.5), "p99_us": at(0.99)}


def timed(iterations: int, step: Callable[[], object]) -> Dict[str, float]:
    micros = []
    for _ in range(iterations):
        started = time.perf_counter()
        step()
        micros.append((time.perf_counter() - started) * 1e6)
    return percentiles(micros)


def echo_pickles(connection) -> None:
    """Second process: unpickle each frame and ack with its size."""
    while True:
        data = connection.recv_bytes()
        if not data:
            return
        frame = pickle.loads(data)
        connection.send_bytes(str(frame.nbytes).encode())


def echo_socket(sock: socket.socket) -> None:
    with sock:
        while True:
            header = sock.recv(8, socket.MSG_WAITALL)
            if len(header) < 8:
                return
            size = int.from_bytes(header, "little")
            if size == 0:
                return
            data = bytearray(size)
            view = memoryview(data)
            got = 0
            while got < size:
                got += sock.recv_into(view[got:], size - got)
            frame = pickle.loads(data)
            sock.sendall(frame.nbytes.to_bytes(8, "little"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rust", default=os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "shm-pixels-bench"))
    args = parser.parse_args()
    n = args.iterations
    frame = (np.arange(1080 * 1920 * 3) % 251).astype(np.uint8).reshape(1080, 1920, 3)
    rows = []

    name = f"pybench-{os.getpid()}"
    with shx.Mapping.create_new(name, capacity=16 << 20) as m:
        rows.append({"operation": "send_pixels", **timed(n, lambda: m.send_pixels(frame, "BGR8"))})
        rows.append({"operation": "recv (copy into a new ndarray)", **timed(n, lambda: m.recv().pixels)})

        def view_and_check() -> None:
            with m.view() as pixels:
                pixels[0, 0]

        rows.append({"operation": "view (zero-copy, checked)", **timed(n, view_and_check)})
    os.unlink(f"/dev/shm/{name}")
    for row in rows:
        row["side"] = "python shm_exchange"

    block = shared_memory.SharedMemory(create=True, size=frame.nbytes)
    try:
        target = np.ndarray(frame.shape, np.uint8, buffer=block.buf)
        rows.append({"side": "python multiprocessing.shared_memory", "operation": "copy in",
                     **timed(n, lambda: np.copyto(target, frame))})
        rows.append({"side": "python multiprocessing.shared_memory", "operation": "copy out (new ndarray)",
                     **timed(n, lambda: target.copy())})
        del target
    finally:
        block.close()
        block.unlink()

    parent, child = mp.Pipe()
    worker = mp.Process(target=echo_pickles, args=(child,))
    worker.start()

    def pipe_round_trip() -> None:
        parent.send_bytes(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))
        parent.recv_bytes()

    rows.append({"side": "python pickle + pipe", "operation": "send, unpickle, ack", **timed(n, pipe_round_trip)})
    parent.send_bytes(b"")
    worker.join()

    ours, theirs = socket.socketpair()
    worker = mp.Process(target=echo_socket, args=(theirs,))
    worker.start()

    def socket_round_trip() -> None:
        data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
        ours.sendall(len(data).to_bytes(8, "little") + data)
        ours.recv(8, socket.MSG_WAITALL)

    rows.append({"side": "python pickle + unix socket", "operation": "send, unpickle, ack", **timed(n, socket_round_trip)})
    ours.sendall(bytes(8))  # size 0: done (the forked worker holds a copy of `ours` too)
    worker.join()
    ours.close()

    if os.access(args.rust, os.X_OK):
        done = subprocess.run([args.rust, "--iterations", str(n)], capture_output=True, text=True, check=True)
        rows += [json.loads(line) for line in done.stdout.splitlines()]
    else:
        print(f"(no Rust side: {args.rust} not built; cargo build --release -p shm-testkit)", file=sys.stderr)

    width = max(len(r["side"]) + len(r["operation"]) for r in rows) + 3
    print(f"{'1920x1080 BGR8 frame':<{width}} {'p50 us':>9} {'p99 us':>9}")
    for r in rows:
        print(f"{r['side'] + ': ' + r['operation']:<{width}} {r['p50_us']:>9.0f} {r['p99_us']:>9.0f}")


if __name__ == "__main__":
    main()
