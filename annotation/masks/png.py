"""Lossless grayscale PNG codec for segment-index maps.

Stored maps are content-addressed by the sha256 of their bytes, so the encoder is written out
here (signature, IHDR, one IDAT, IEND; every row filtered with "Up"; zlib level 6) rather than
left to Pillow's filter heuristics: equal maps give equal bytes for a given zlib build.

Decoding accepts any valid 8- or 16-bit grayscale PNG, whatever wrote it (any filter types,
several IDAT chunks, Adam7 interlacing, ancillary chunks). The chunk structure, CRCs, header and
zlib stream length are checked here before Pillow unfilters the pixels, so a truncated or
corrupt file is refused even when ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is switched on, and
an oversized image is refused before anything is inflated.
"""

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from annotation.masks._arrays import as_index_map
from annotation.masks.errors import MaskFormatError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The "Up" filter turns the many rows that repeat the one above into zeros; on label maps it
# beat None, Sub and Pillow's adaptive choice, and level 6 compressed as well as level 9 here.
_FILTER_UP = 2
_ZLIB_LEVEL = 6
_INFLATE_STEP = 1 << 20

_COLOUR_TYPES = {
    0: "grayscale",
    2: "RGB colour",
    3: "palette (indexed colour)",
    4: "grayscale with alpha",
    6: "RGBA colour",
}
_GRAYSCALE = 0
_SUPPORTED_BIT_DEPTHS = (8, 16)
# (x offset, y offset, x step, y step) of the seven Adam7 passes.
_ADAM7_PASSES = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
# Pillow has opened 16-bit grayscale as "I" in older releases and as "I;16" since; accept both.
_PILLOW_MODES: dict[int, tuple[str, ...]] = {8: ("L",), 16: ("I;16", "I;16B", "I;16L", "I")}


@dataclass(frozen=True)
class PngHeader:
    """The IHDR fields of a PNG file."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool


def index_map_bits(index_map: npt.NDArray[np.integer]) -> Literal[8, 16]:
    """Bit depth the map is stored with: 8 when its largest id is <= 255, else 16."""
    array = as_index_map(index_map)
    return 8 if int(array.max()) <= 255 else 16


def encode_index_map(index_map: npt.NDArray[np.integer]) -> bytes:
    """Encode an index map as a grayscale PNG, 8-bit when max id <= 255 else 16-bit big-endian.

    Precondition: 2-D integer array, values in [0, 65535]. Deterministic: equal maps give equal
    bytes (no timestamps or other metadata are written).
    """
    array = as_index_map(index_map)
    height, width = array.shape
    bits = index_map_bits(array)
    samples = array.astype(np.uint8) if bits == 8 else array.astype(">u2")
    rows = np.ascontiguousarray(samples).view(np.uint8).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = _FILTER_UP
    filtered[0, 1:] = rows[0]
    # uint8 subtraction wraps modulo 256, which is exactly the PNG filter arithmetic.
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, bits, _GRAYSCALE, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(filtered.tobytes(), _ZLIB_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )


def decode_index_map(data: bytes, *, expected_shape: tuple[int, int] | None = None) -> npt.NDArray[np.uint16]:
    """Decode an 8- or 16-bit grayscale PNG into a (height, width) uint16 index map.

    Raises ``MaskFormatError`` when ``data`` is not a PNG, is truncated or corrupt, is colour,
    palette or alpha, has a bit depth other than 8 or 16, has more pixels than
    ``PIL.Image.MAX_IMAGE_PIXELS`` (when that is not None), or is not ``expected_shape``
    (height, width). A tRNS chunk is ignored: it marks a display colour, not a segment id.
    """
    header, image_data = _read_chunks(data)
    _check_header(header, expected_shape=expected_shape)
    _check_image_data(image_data, header)
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()
            mode = image.mode
            pixels = np.asarray(image)
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError) as error:
        raise MaskFormatError(f"PNG could not be decoded: {error}") from error
    if mode not in _PILLOW_MODES[header.bit_depth]:
        raise MaskFormatError(
            f"{header.bit_depth}-bit grayscale PNG decoded as unexpected Pillow mode {mode}"
        )
    if pixels.shape != (header.height, header.width):
        raise MaskFormatError(
            f"PNG decoded to shape {pixels.shape}, header says {header.height}x{header.width}"
        )
    if pixels.dtype.kind == "i" and (int(pixels.min()) < 0 or int(pixels.max()) > 65535):
        raise MaskFormatError(f"PNG decoded to values outside [0, 65535] in Pillow mode {mode}")
    # astype converts any byte order to native and always returns a fresh, writable array.
    return pixels.astype(np.uint16)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


@dataclass(frozen=True)
class _Chunk:
    kind: bytes
    payload: bytes


def _iter_chunks(data: bytes) -> Iterator[_Chunk]:
    """Yield the chunks up to and including IEND, checking lengths and CRCs."""
    position = len(PNG_SIGNATURE)
    while True:
        if position + 8 > len(data):
            raise MaskFormatError("PNG is truncated: it ends before the IEND chunk")
        (length,) = struct.unpack_from(">I", data, position)
        kind = data[position + 4 : position + 8]
        if not kind.isalpha():
            raise MaskFormatError(f"PNG is corrupt: invalid chunk type {kind!r} at byte {position + 4}")
        end = position + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise MaskFormatError(f"PNG is truncated inside the {kind.decode()} chunk at byte {position}")
        payload = data[position + 8 : end - 4]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(kind + payload) != crc:
            raise MaskFormatError(
                f"PNG is corrupt: CRC mismatch in the {kind.decode()} chunk at byte {position}"
            )
        yield _Chunk(kind=kind, payload=payload)
        if kind == b"IEND":
            return
        position = end


def _read_chunks(data: bytes) -> tuple[PngHeader, bytes]:
    """Return the header and the concatenated IDAT payloads; bytes after IEND are ignored."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MaskFormatError(f"PNG data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(PNG_SIGNATURE):
        raise MaskFormatError("not a PNG file: the 8-byte PNG signature is missing")
    header: PngHeader | None = None
    image_data: list[bytes] = []
    idat_closed = False
    for chunk in _iter_chunks(data):
        if header is None:
            if chunk.kind != b"IHDR":
                raise MaskFormatError(f"PNG is corrupt: first chunk is {chunk.kind.decode()}, not IHDR")
            header = _parse_header(chunk.payload)
        elif chunk.kind == b"IDAT":
            if idat_closed:
                raise MaskFormatError("PNG is corrupt: IDAT chunks are not consecutive")
            image_data.append(chunk.payload)
        else:
            idat_closed = bool(image_data)
            # An uppercase first letter marks a critical chunk a decoder must understand.
            if chunk.kind[:1].isupper() and chunk.kind not in (b"IEND", b"PLTE"):
                raise MaskFormatError(f"PNG has an unknown critical chunk {chunk.kind.decode()}")
    if header is None:  # pragma: no cover - _iter_chunks yields at least one chunk or raises
        raise MaskFormatError("PNG has no IHDR chunk")
    if not image_data:
        raise MaskFormatError("PNG has no image data (IDAT chunk)")
    return header, b"".join(image_data)


def _parse_header(payload: bytes) -> PngHeader:
    if len(payload) != 13:
        raise MaskFormatError(f"PNG is corrupt: IHDR has {len(payload)} bytes, expected 13")
    width, height, bit_depth, colour_type, compression, filter_method, interlace = struct.unpack(
        ">IIBBBBB", payload
    )
    if width == 0 or height == 0:
        raise MaskFormatError(f"PNG is corrupt: size {width}x{height} has no pixels")
    if compression != 0 or filter_method != 0 or interlace not in (0, 1):
        raise MaskFormatError("PNG is corrupt: unknown compression, filter or interlace method in IHDR")
    return PngHeader(
        width=width,
        height=height,
        bit_depth=bit_depth,
        colour_type=colour_type,
        interlaced=interlace == 1,
    )


def _check_header(header: PngHeader, *, expected_shape: tuple[int, int] | None) -> None:
    if header.colour_type != _GRAYSCALE:
        mode = _COLOUR_TYPES.get(header.colour_type, f"unknown colour type {header.colour_type}")
        raise MaskFormatError(
            f"index map PNG must be single-channel grayscale, got {mode} ({header.bit_depth}-bit)"
        )
    if header.bit_depth not in _SUPPORTED_BIT_DEPTHS:
        raise MaskFormatError(f"index map PNG must be 8- or 16-bit grayscale, got {header.bit_depth}-bit")
    limit = Image.MAX_IMAGE_PIXELS
    pixels = header.width * header.height
    if limit is not None and pixels > limit:
        raise MaskFormatError(
            f"PNG has {pixels} pixels ({header.height}x{header.width}), more than the limit of {limit} "
            "(PIL.Image.MAX_IMAGE_PIXELS); refusing a possible decompression bomb"
        )
    if expected_shape is not None and (header.height, header.width) != tuple(expected_shape):
        raise MaskFormatError(
            f"PNG is {header.height}x{header.width} (height x width), "
            f"but the image is {expected_shape[0]}x{expected_shape[1]}"
        )


def _filtered_size(header: PngHeader) -> int:
    """Bytes of filtered image data: one filter byte plus the samples of each (pass) row."""
    bytes_per_pixel = header.bit_depth // 8
    if not header.interlaced:
        return header.height * (1 + header.width * bytes_per_pixel)
    total = 0
    for x0, y0, dx, dy in _ADAM7_PASSES:
        pass_width = -(-(header.width - x0) // dx) if header.width > x0 else 0
        pass_height = -(-(header.height - y0) // dy) if header.height > y0 else 0
        if pass_width and pass_height:
            total += pass_height * (1 + pass_width * bytes_per_pixel)
    return total


def _check_image_data(image_data: bytes, header: PngHeader) -> None:
    """Inflate the IDAT stream in bounded steps and check it holds exactly the declared bytes."""
    expected = _filtered_size(header)
    inflater = zlib.decompressobj()
    produced = 0
    pending = image_data
    try:
        while True:
            output = inflater.decompress(pending, _INFLATE_STEP)
            produced += len(output)
            pending = inflater.unconsumed_tail
            if produced > expected:
                raise MaskFormatError(
                    f"PNG is corrupt: image data inflates to more than the {expected} bytes its header declares"
                )
            # With all input consumed, zlib may still hold output beyond the step: drain it.
            if inflater.eof or not (pending or output):
                break
    except zlib.error as error:
        raise MaskFormatError(f"PNG is corrupt: image data does not inflate ({error})") from error
    if not inflater.eof:
        raise MaskFormatError("PNG is truncated: the compressed image data stream is incomplete")
    if produced < expected:
        raise MaskFormatError(
            f"PNG is corrupt: image data inflates to {produced} bytes, its header declares {expected}"
        )
