"""The pixel size of an image file, read from its header alone (no decoding).

OpenCV has no header-only API, and decoding first is what made a 1.2 MB PNG of
20000x20000 pixels cost gigabytes before it could be refused. This module reads
the few bytes that state the size for every format :mod:`segcam.imaging`
accepts: PNG, JPEG, WebP, BMP, TIFF (and BigTIFF), the PNM family
(PBM/PGM/PPM/PAM), JPEG 2000 (JP2 and raw codestream), GIF and Radiance HDR.

Contract: :func:`image_size` returns ``(width, height)``, or None when the bytes
start with no signature it knows; :mod:`segcam.imaging` refuses those, because
their size cannot be bounded before decoding. A known signature whose header is
cut short or contradicts itself raises :class:`HeaderError`. It never raises
anything else, for any input, and its time is linear in the header's length.
"""

from __future__ import annotations

import re
import struct

#: How much of a file :func:`read_image_size` reads. A JPEG's size comes after its
#: EXIF and ICC blocks (64 KiB each, possibly several), so this is generous.
MAX_HEADER_BYTES = 4 << 20


#: Signatures of formats that segcam knows but does not decode: OpenCV 4.11's JPEG 2000
#: decoder (OpenJPEG) crashes the process (SIGSEGV) on some damaged files, such as one
#: whose SIZ marker has an illegal tile offset, found by tests/test_properties.py.
UNSAFE_SIGNATURES: dict[bytes, str] = {
    b"\x00\x00\x00\x0cjP  \r\n\x87\n": "JPEG 2000",
    b"\xff\x4f\xff\x51": "JPEG 2000",
}


def unsafe_format(head: bytes) -> str | None:
    """The name of the format when ``head`` starts with one segcam will not decode."""
    for sig, name in UNSAFE_SIGNATURES.items():
        if head.startswith(sig):
            return name
    return None


class HeaderError(ValueError):
    """The file has a known image signature but a truncated or inconsistent header."""


def image_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` stated by the header in ``head`` (the file's first bytes)."""
    for sig, reader in _READERS:
        if head.startswith(sig):
            try:
                size = reader(head)
            except HeaderError:
                raise
            except (struct.error, IndexError, ValueError):
                raise HeaderError("truncated header") from None
            if size is None:  # the signature was a coincidence (RIFF but not WebP)
                return None
            w, h = size
            if w <= 0 or h <= 0:
                raise HeaderError(f"header states a size of {w}x{h}")
            return w, h
    return None


def read_image_size(path: str) -> tuple[int, int] | None:
    """:func:`image_size` of the file at ``path`` (OSError if it cannot be read)."""
    with open(path, "rb") as f:
        return image_size(f.read(MAX_HEADER_BYTES))


# -- formats -----------------------------------------------------------------------


def _png(b: bytes) -> tuple[int, int]:
    if b[12:16] != b"IHDR":
        raise HeaderError("PNG without an IHDR chunk first")
    return struct.unpack(">II", b[16:24])


# SOF markers that carry a frame size: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(b: bytes) -> tuple[int, int]:
    i = 2
    while True:
        # Markers may be padded with any number of 0xFF fill bytes.
        if b[i] != 0xFF:
            raise HeaderError("JPEG marker expected")
        while b[i] == 0xFF:
            i += 1
        marker = b[i]
        i += 1
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            continue
        if marker in (0xD9, 0xDA):
            raise HeaderError("JPEG without a frame header before its image data")
        (length,) = struct.unpack(">H", b[i : i + 2])
        if length < 2:
            raise HeaderError("JPEG segment length under 2")
        if marker in _SOF:
            h, w = struct.unpack(">HH", b[i + 3 : i + 7])
            if h == 0:
                # Height 0 means "defined by a later DNL marker": rare, and then we
                # cannot bound the size from the header, so refuse to guess.
                raise HeaderError("JPEG height deferred to a DNL marker")
            return w, h
        i += length


def _webp(b: bytes) -> tuple[int, int] | None:
    if b[8:12] != b"WEBP":
        return None
    kind = b[12:16]
    if kind == b"VP8X":
        if len(b) < 30:
            raise HeaderError("truncated WebP header")
        w = int.from_bytes(b[24:27], "little") + 1
        h = int.from_bytes(b[27:30], "little") + 1
        return w, h
    if kind == b"VP8L":
        if len(b) < 25:
            raise HeaderError("truncated WebP header")
        if b[20] != 0x2F:
            raise HeaderError("bad VP8L signature")
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 ":
        if b[23:26] != b"\x9d\x01\x2a":
            raise HeaderError("bad VP8 start code")
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    raise HeaderError("unknown WebP chunk")


def _bmp(b: bytes) -> tuple[int, int]:
    (header_size,) = struct.unpack("<I", b[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", b[18:22])
    w, h = struct.unpack("<ii", b[18:26])
    return w, abs(h)  # a negative height means top-down rows


def _tiff(b: bytes) -> tuple[int, int]:
    end = "<" if b[:2] == b"II" else ">"
    (magic,) = struct.unpack(end + "H", b[2:4])
    if magic == 43:  # BigTIFF: 8-byte offsets and counts
        (ifd,) = struct.unpack(end + "Q", b[8:16])
        (n,) = struct.unpack(end + "Q", b[ifd : ifd + 8])
        entries, size, start = n, 20, ifd + 8
    else:
        (ifd,) = struct.unpack(end + "I", b[4:8])
        (n,) = struct.unpack(end + "H", b[ifd : ifd + 2])
        entries, size, start = n, 12, ifd + 2
    found: dict[int, int] = {}
    for k in range(entries):
        e = start + k * size
        tag, typ = struct.unpack(end + "HH", b[e : e + 4])
        if tag not in (256, 257):
            continue
        value_at = e + (12 if magic == 43 else 8)
        if typ == 3:  # SHORT
            (found[tag],) = struct.unpack(end + "H", b[value_at : value_at + 2])
        elif typ == 4:  # LONG
            (found[tag],) = struct.unpack(end + "I", b[value_at : value_at + 4])
        elif typ == 16:  # LONG8 (BigTIFF)
            (found[tag],) = struct.unpack(end + "Q", b[value_at : value_at + 8])
        else:
            raise HeaderError("TIFF size tag of an unexpected type")
        if len(found) == 2:
            return found[256], found[257]
    raise HeaderError("TIFF without width and height in its first directory")


_PNM_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\S+)")


def _pnm(b: bytes) -> tuple[int, int]:
    if b[1:2] == b"7":  # PAM: "WIDTH n" and "HEIGHT n" lines before ENDHDR
        text = b[: b.find(b"ENDHDR")] if b"ENDHDR" in b else b""
        w = re.search(rb"\nWIDTH\s+(\d+)", text)
        h = re.search(rb"\nHEIGHT\s+(\d+)", text)
        if not (w and h):
            raise HeaderError("PAM header without WIDTH and HEIGHT")
        return int(w.group(1)), int(h.group(1))
    pos, values = 2, []
    for _ in range(2):
        m = _PNM_TOKEN.match(b, pos)
        if not m or not m.group(1).isdigit():
            raise HeaderError("PNM header without a width and height")
        values.append(int(m.group(1)))
        pos = m.end()
    return values[0], values[1]


def _jp2(b: bytes) -> tuple[int, int]:
    # Boxes: length (4), type (4), payload; the size is in jp2h/ihdr (height, width).
    i = 0
    while i + 8 <= len(b):
        length, kind = struct.unpack(">I4s", b[i : i + 8])
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", b[i + 8 : i + 16])
            header = 16
        if kind == b"jp2h":
            i += header  # a superbox: step inside
            continue
        if kind == b"ihdr":
            h, w = struct.unpack(">II", b[i + header : i + header + 8])
            return w, h
        if length < header:
            break
        i += length
    raise HeaderError("JP2 without an image header box")


def _j2k(b: bytes) -> tuple[int, int]:
    # SOC then SIZ: Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz.
    xs, ys, xo, yo = struct.unpack(">IIII", b[8:24])
    return xs - xo, ys - yo


def _gif(b: bytes) -> tuple[int, int]:
    return struct.unpack("<HH", b[6:10])


def _hdr(b: bytes) -> tuple[int, int]:
    m = re.search(rb"\n\n([-+])([XY]) (\d+) ([-+])([XY]) (\d+)", b)
    if not m:
        raise HeaderError("Radiance header without a resolution line")
    sizes = {m.group(2): int(m.group(3)), m.group(5): int(m.group(6))}
    return sizes.get(b"X", 0), sizes.get(b"Y", 0)


def _sun(b: bytes) -> tuple[int, int]:
    return struct.unpack(">II", b[4:12])


def _pfm(b: bytes) -> tuple[int, int]:
    return _pnm(b)


_READERS = (
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8\xff", _jpeg),
    (b"RIFF", _webp),
    (b"BM", _bmp),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"II+\x00", _tiff),
    (b"MM\x00+", _tiff),
    *((f"P{k}".encode(), _pnm) for k in range(1, 8)),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", _jp2),
    (b"\xff\x4f\xff\x51", _j2k),
    (b"GIF87a", _gif),
    (b"GIF89a", _gif),
    (b"#?RADIANCE", _hdr),
    (b"#?RGBE", _hdr),
    (b"\x59\xa6\x6a\x95", _sun),
    (b"PF", _pfm),
    (b"Pf", _pfm),
)
