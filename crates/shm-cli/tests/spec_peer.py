"""An independent implementation of frame format v2, written from the spec alone,
with nothing but the Python standard library (mmap, struct, zlib, fcntl).

    spec_peer.py read NAME           prints the current frame as JSON
    spec_peer.py write-image NAME PATH_TEXT IMAGE_FILE
    spec_peer.py write-struct NAME ID AGE S0,...,S9
    spec_peer.py create NAME LEN     creates a mapping with a valid empty header

Used by the Rust tests to prove that the documented layout is the real one.
"""
import fcntl
import json
import mmap
import os
import struct
import sys
import time
import zlib

HEADER_LEN = 4096
LEASE_NS = 100_000_000  # how long a read request holds the writer (docs/PROTOCOL.md)
PIXEL_FORMATS = {1: ("RGBA8", 4), 2: ("BGRA8", 4), 3: ("RGB8", 3), 4: ("BGR8", 3), 5: ("GRAY8", 1),
                 6: ("NV12", 1), 7: ("I420", 1), 8: ("YUY2", 2)}


def open_mapping(name):
    fd = os.open("/dev/shm/" + name, os.O_RDWR | os.O_NOFOLLOW)
    size = os.fstat(fd).st_size
    return fd, mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)


def check_header(m):
    magic, version, header_len, mapping_len = struct.unpack_from("<4sHHQ", m, 0)
    assert magic == b"SHMX", magic
    assert version == 2 and header_len == HEADER_LEN, (version, header_len)
    assert mapping_len == len(m), (mapping_len, len(m))
    return mapping_len


def file_read_request(m):
    """Ask the writer to pause before its next frame (docs/PROTOCOL.md, "Read requests").
    Python has no atomic read-modify-write on a mapping, so this peer raises the
    deadline and counts the request with plain stores, which the spec allows at the
    cost of a lost update (the writer's deadline and forgiveness bound it).
    Returns the epoch the request was filed in."""
    deadline = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + LEASE_NS
    (old,) = struct.unpack_from("<Q", m, 88)
    struct.pack_into("<Q", m, 88, max(old, deadline))
    (filed,) = struct.unpack_from("<I", m, 68)
    epoch = filed >> 16
    struct.pack_into("<I", m, 68, epoch << 16 | ((filed + 1) & 0xFFFF))
    return epoch


def complete_read_request(m, epoch):
    """Count the request done, only in the epoch it was filed in (a writer that
    forgave it started a new one), and only then wake the writer."""
    (done,) = struct.unpack_from("<I", m, 96)
    if done >> 16 == epoch:
        struct.pack_into("<I", m, 96, epoch << 16 | ((done + 1) & 0xFFFF))


def forgive_read_requests(m, filed, done):
    """Start a new epoch in both words: every outstanding request is dropped."""
    fresh = (((filed >> 16) + 1) & 0xFFFF) << 16
    struct.pack_into("<I", m, 96, fresh)
    struct.pack_into("<I", m, 68, fresh)


def read(name):
    fd, m = open_mapping(name)
    mapping_len = check_header(m)
    requested = []

    def on_retry():
        if not requested:
            requested.append(file_read_request(m))

    try:
        read_frame(m, mapping_len, on_retry)
    finally:
        if requested:
            complete_read_request(m, requested[0])


def read_frame(m, mapping_len, on_retry):
    for _ in range(1000):
        (s1,) = struct.unpack_from("<Q", m, 16)
        if s1 % 2:
            on_retry()
            time.sleep(0.001)
            continue
        kind, flags, payload_len, crc, pid, written = struct.unpack_from("<IIQIIQ", m, 24)
        if payload_len > mapping_len - HEADER_LEN:
            raise SystemExit("payload_len past the end")
        payload = bytes(m[HEADER_LEN:HEADER_LEN + payload_len])
        (s2,) = struct.unpack_from("<Q", m, 16)
        if s1 != s2:
            on_retry()
            continue
        if flags & 1 and zlib.crc32(payload) != crc:
            raise SystemExit("crc mismatch")
        out = {"frame": s1 // 2, "kind": kind, "payload_len": payload_len, "writer_pid": pid}
        if kind == 1:
            (path_len,) = struct.unpack_from("<i", payload, 0)
            path = payload[4:4 + path_len].decode("utf-8")
            (image_len,) = struct.unpack_from("<i", payload, 4 + path_len)
            assert path_len + image_len + 8 == payload_len
            image = payload[8 + path_len:]
            out.update(path=path, image_len=image_len, image_crc32=zlib.crc32(image))
        elif kind == 2:
            fields = struct.unpack("<12i", payload)
            out.update(id=fields[0], age=fields[1], scores=list(fields[2:]),
                       text="Id=%d,Age=%d,Scores=%s" % (fields[0], fields[1], ",".join(map(str, fields[2:]))))
        elif kind == 3:
            width, height, stride, fmt, captured, path_len, chroma_stride = struct.unpack_from("<4IQ2I", payload, 0)
            fmt_name, bpp = PIXEL_FORMATS[fmt]
            half_w, half_h = (width + 1) // 2, (height + 1) // 2
            # (stride, row length, rows) of each plane, in order (docs/PROTOCOL.md).
            planes = [(stride, 4 * half_w if fmt_name == "YUY2" else width * bpp, height)]
            if fmt_name == "NV12":
                planes.append((chroma_stride, 2 * half_w, half_h))
            elif fmt_name == "I420":
                planes += [(chroma_stride, half_w, half_h)] * 2
            pixels_len = sum(s * r for s, _, r in planes)
            assert all(s >= l for s, l, _ in planes) and 32 + pixels_len + path_len == payload_len
            rows, offset = b"", 32
            for s, length, r in planes:
                rows += b"".join(payload[offset + y * s:offset + y * s + length] for y in range(r))
                offset += s * r
            out.update(width=width, height=height, stride_bytes=stride, pixel_format=fmt_name,
                       capture_unix_nanos=captured, pixels_crc32=zlib.crc32(rows),
                       path=payload[32 + pixels_len:].decode("utf-8"))
        print(json.dumps(out))
        return
    raise SystemExit("no stable frame")


def write(name, kind, payload):
    fd, m = open_mapping(name)
    mapping_len = check_header(m)
    assert len(payload) <= mapping_len - HEADER_LEN
    fcntl.flock(fd, fcntl.LOCK_EX)  # the writer lock (docs/PROTOCOL.md)
    try:
        # Honour read requests: pause until those filed so far are done, at most
        # until their deadline or 100 ms; then forgive the rest (a new epoch).
        (done,) = struct.unpack_from("<I", m, 96)  # done first, then filed
        (filed,) = struct.unpack_from("<I", m, 68)
        outstanding = ((filed & 0xFFFF) - (done & 0xFFFF)) & 0xFFFF
        started = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if filed >> 16 != done >> 16 or outstanding > 4096:
            forgive_read_requests(m, filed, done)  # not words readers make
        elif outstanding:
            while True:
                (done,) = struct.unpack_from("<I", m, 96)
                if done >> 16 != filed >> 16:
                    forgive_read_requests(m, filed, done)
                    break
                if ((done & 0xFFFF) - (filed & 0xFFFF)) & 0xFFFF < 0x8000:
                    break  # the requests filed before this frame are done
                now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                if now >= min(struct.unpack_from("<Q", m, 88)[0], started + LEASE_NS):
                    forgive_read_requests(m, filed, done)
                    break
                time.sleep(0.0005)
        (s,) = struct.unpack_from("<Q", m, 16)
        if s % 2:
            s += 1
        struct.pack_into("<Q", m, 16, s + 1)
        struct.pack_into("<IIQIIQ", m, 24, kind, 1, len(payload), zlib.crc32(payload), os.getpid(),
                         time.time_ns())
        m[HEADER_LEN:HEADER_LEN + len(payload)] = payload
        struct.pack_into("<Q", m, 16, s + 2)
        # Bump this implementation's futex word so waiting readers re-check.
        (word,) = struct.unpack_from("<I", m, 64)
        struct.pack_into("<I", m, 64, (word + 1) & 0xFFFFFFFF)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
    print(json.dumps({"frame": (s + 2) // 2}))


def create(name, length):
    fd = os.open("/dev/shm/" + name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.ftruncate(fd, length)
    m = mmap.mmap(fd, length)
    struct.pack_into("<HHQ", m, 4, 2, HEADER_LEN, length)
    m[0:4] = b"SHMX"


def main():
    cmd, name = sys.argv[1], sys.argv[2]
    if cmd == "read":
        read(name)
    elif cmd == "write-image":
        path = sys.argv[3].encode("utf-8")
        image = open(sys.argv[4], "rb").read()
        write(name, 1, struct.pack("<i", len(path)) + path + struct.pack("<i", len(image)) + image)
    elif cmd == "write-struct":
        scores = [int(x) for x in sys.argv[5].split(",")]
        write(name, 2, struct.pack("<12i", int(sys.argv[3]), int(sys.argv[4]), *scores))
    elif cmd == "create":
        create(name, int(sys.argv[3]))
    else:
        raise SystemExit("unknown command " + cmd)


main()
