"""Fixtures for the shm_exchange tests: unique mapping names, the `shm` CLI, the sample images."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[3]
ASSETS = REPO / "assets"


@pytest.fixture
def name() -> Iterator[str]:
    """A mapping name no other test uses; the mapping is removed afterwards."""
    mapping_name = f"py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield mapping_name
    try:
        os.unlink(f"/dev/shm/{mapping_name}")
    except FileNotFoundError:
        pass


@pytest.fixture(scope="session")
def shm_bin() -> Path:
    """The `shm` binary: $SHM_BIN, else the workspace's debug or release build."""
    candidates = [os.environ.get("SHM_BIN")] if os.environ.get("SHM_BIN") else []
    candidates += [str(REPO / "target" / "debug" / "shm"), str(REPO / "target" / "release" / "shm")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.fail(f"no `shm` binary among {candidates}: build it with `cargo build -p shm-cli` or set SHM_BIN")


def run_shm(shm_bin: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs `shm ARGS...`, failing the test with its stderr when it fails."""
    done = subprocess.run([str(shm_bin), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"shm {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done


def run_python(code: str, *args: str) -> subprocess.Popen:
    """Starts `python -c CODE ARGS...` (this interpreter, so the same package), with
    pipes for stdin, stdout and stderr (text, line-buffered)."""
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def ask(process: subprocess.Popen, request: str) -> str:
    """Writes one request line to `process` and returns the line it answers."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(request + "\n")
    process.stdin.flush()
    answer = process.stdout.readline()
    assert answer, f"child ended instead of answering {request!r}: {process.stderr.read() if process.stderr else ''}"
    return answer.strip()


def finish(process: subprocess.Popen) -> List[str]:
    """Waits for `process`, asserts it succeeded, and returns its stdout lines."""
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, f"child exited {process.returncode}: {err}"
    return out.splitlines()
