"""Hostile media for tests, made cheaply: huge images that never exist in memory, and
header-patched copies of real files.

:func:`write_flat_png` writes a valid, one-colour PNG of any size in about a
megabyte per 400 megapixels without ever holding the image: every row after the
first is PNG filter "Up" of an identical row (all zero bytes), so the deflate
stream is one compressed block repeated. The tests that use it must never decode
it in full; that is what segcam is supposed to refuse.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_ROWS_PER_BLOCK = 256


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _raw_deflate_block(data: bytes) -> bytes:
    # A fresh compressor has no history, and a full flush ends byte-aligned, so the
    # block can be repeated (or follow any other such block) in one zlib stream.
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def write_flat_png(
    path: Path, width: int, height: int, rgb: tuple[int, int, int] = (40, 90, 160)
) -> Path:
    """A valid 8-bit RGB PNG of ``width`` x ``height`` in one colour (cheap at any size)."""
    row_len = 1 + 3 * width
    first = bytearray(row_len)
    first[0] = 1  # filter Sub: the first pixel, then zeros repeat it along the row
    first[1:4] = bytes(rgb)
    up_row = b"\x02" + bytes(row_len - 1)  # filter Up: each row repeats the one above
    block = up_row * min(_ROWS_PER_BLOCK, max(0, height - 1))
    parts = [b"\x78\xda", _raw_deflate_block(bytes(first))]
    adler = zlib.adler32(bytes(first))
    left = height - 1
    if block:
        packed = _raw_deflate_block(block)
        while left >= _ROWS_PER_BLOCK:
            parts.append(packed)
            adler = zlib.adler32(block, adler)
            left -= _ROWS_PER_BLOCK
    if left:
        tail = up_row * left
        parts.append(_raw_deflate_block(tail))
        adler = zlib.adler32(tail, adler)
    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(end.flush(zlib.Z_FINISH))  # an empty final block
    parts.append(struct.pack(">I", adler))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_chunk(b"IHDR", ihdr))
        f.write(_chunk(b"IDAT", b"".join(parts)))
        f.write(_chunk(b"IEND", b""))
    return path


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """A copy of JPEG ``data`` whose frame header (SOFn) claims ``width`` x ``height``."""
    out = bytearray(data)
    i = 2
    while i + 4 <= len(out):
        if out[i] != 0xFF:
            raise ValueError("not a JPEG marker")
        marker = out[i + 1]
        length = struct.unpack(">H", out[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            out[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        i += 2 + length
    raise ValueError("no SOF marker")
