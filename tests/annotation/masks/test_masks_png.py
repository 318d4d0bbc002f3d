import hashlib
import io
import struct
import warnings
import zlib

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageFile

from annotation.masks import MaskFormatError, decode_index_map, encode_index_map, index_map_bits

SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- helpers: a small independent PNG writer, to feed the decoder what other encoders write ---


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def ihdr(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 0, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace))


def paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    return (left, up, up_left)[distances.index(min(distances))]


def filter_rows(rows: npt.NDArray[np.uint8], filter_type: int, bytes_per_pixel: int) -> bytes:
    """PNG filtering as the specification defines it, byte by byte (slow, for tiny images)."""
    out = bytearray()
    previous = [0] * rows.shape[1]
    for row in rows.tolist():
        out.append(filter_type)
        for i, value in enumerate(row):
            left = row[i - bytes_per_pixel] if i >= bytes_per_pixel else 0
            up = previous[i]
            up_left = previous[i - bytes_per_pixel] if i >= bytes_per_pixel else 0
            predictor = (0, left, up, (left + up) // 2, paeth(left, up, up_left))[filter_type]
            out.append((value - predictor) % 256)
        previous = row
    return bytes(out)


def sample_rows(index_map: npt.NDArray[np.uint16], bit_depth: int) -> npt.NDArray[np.uint8]:
    samples = index_map.astype(np.uint8 if bit_depth == 8 else ">u2")
    return np.ascontiguousarray(samples).view(np.uint8).reshape(index_map.shape[0], -1)


def png_with_filter(index_map: npt.NDArray[np.uint16], *, bit_depth: int, filter_type: int) -> bytes:
    height, width = index_map.shape
    data = filter_rows(sample_rows(index_map, bit_depth), filter_type, bit_depth // 8)
    return (
        SIGNATURE
        + ihdr(width, height, bit_depth=bit_depth)
        + chunk(b"IDAT", zlib.compress(data))
        + chunk(b"IEND", b"")
    )


def interlaced_png(index_map: npt.NDArray[np.uint16], *, bit_depth: int) -> bytes:
    passes = (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    )
    data = b""
    for x0, y0, dx, dy in passes:
        sub_image = index_map[y0::dy, x0::dx]
        if sub_image.size:
            data += filter_rows(sample_rows(sub_image, bit_depth), 4, bit_depth // 8)
    height, width = index_map.shape
    return (
        SIGNATURE
        + ihdr(width, height, bit_depth=bit_depth, interlace=1)
        + chunk(b"IDAT", zlib.compress(data))
        + chunk(b"IEND", b"")
    )


def png_with_raw_stream(width: int, height: int, stream: bytes) -> bytes:
    return SIGNATURE + ihdr(width, height) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


def chunk_types(data: bytes) -> list[bytes]:
    kinds, position = [], len(SIGNATURE)
    while position < len(data):
        (length,) = struct.unpack_from(">I", data, position)
        kinds.append(data[position + 4 : position + 8])
        position += 12 + length
    return kinds


def pillow_png(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def bit_depth_of(data: bytes) -> int:
    return data[24]  # signature (8) + length (4) + "IHDR" (4) + width (4) + height (4)


MAP_16_BIT = np.array([[0, 1, 255, 256], [257, 4660, 65280, 65535]], dtype=np.uint16)


# --- encoding ------------------------------------------------------------------------------------


def test_index_map_bits_is_8_up_to_id_255():
    assert index_map_bits(np.array([[0, 255]], dtype=np.uint16)) == 8


def test_index_map_bits_is_16_from_id_256():
    assert index_map_bits(np.array([[0, 256]], dtype=np.uint16)) == 16


def test_encode_writes_8_bit_grayscale_when_ids_fit_a_byte():
    data = encode_index_map(np.array([[0, 7], [255, 1]], dtype=np.uint16))

    assert bit_depth_of(data) == 8
    assert data[25] == 0  # colour type 0: grayscale


def test_encode_writes_16_bit_grayscale_above_id_255():
    assert bit_depth_of(encode_index_map(MAP_16_BIT)) == 16


def test_encode_writes_only_header_data_and_end_chunks():
    assert chunk_types(encode_index_map(MAP_16_BIT)) == [b"IHDR", b"IDAT", b"IEND"]


def test_encode_gives_identical_bytes_for_equal_maps_in_any_layout_or_dtype():
    c_order = np.arange(24, dtype=np.uint16).reshape(4, 6) * 300
    fortran = np.asfortranarray(c_order)
    strided = np.repeat(c_order, 2, axis=1)[:, ::2]
    as_int32 = c_order.astype(np.int32)

    digests = {hashlib.sha256(encode_index_map(m)).hexdigest() for m in (c_order, fortran, strided, as_int32)}

    assert len(digests) == 1


def test_pillow_reads_16_bit_encoding_with_the_same_values():
    with Image.open(io.BytesIO(encode_index_map(MAP_16_BIT))) as image:
        assert np.array_equal(np.asarray(image), MAP_16_BIT)


def test_pillow_reads_8_bit_encoding_as_mode_l_with_the_same_values():
    index_map = np.array([[0, 1], [254, 255]], dtype=np.uint16)

    with Image.open(io.BytesIO(encode_index_map(index_map))) as image:
        assert image.mode == "L"
        assert np.array_equal(np.asarray(image), index_map)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 2, 1), dtype=np.uint16), r"must be 2-D \(height, width\), got shape \(2, 2, 1\)"),
        (np.zeros((2, 2), dtype=np.float32), "must have an integer dtype, got float32"),
        (np.zeros((2, 2), dtype=np.bool_), "must have an integer dtype, got bool"),
        (np.zeros((0, 3), dtype=np.uint16), r"at least one pixel, got shape \(0, 3\)"),
        (np.array([[-1, 2]], dtype=np.int32), r"in \[0, 65535\], got values in \[-1, 2\]"),
        (np.array([[0, 65536]], dtype=np.int32), r"in \[0, 65535\], got values in \[0, 65536\]"),
    ],
)
def test_encode_rejects_arrays_that_are_not_index_maps(array, message):
    with pytest.raises(MaskFormatError, match=message):
        encode_index_map(array)


# --- decoding valid files ------------------------------------------------------------------------


def test_decode_round_trips_16_bit_values_up_to_65535_exactly():
    decoded = decode_index_map(encode_index_map(MAP_16_BIT))

    assert decoded.dtype == np.uint16
    assert np.array_equal(decoded, MAP_16_BIT)


def test_decode_returns_native_writable_uint16_for_8_bit_files():
    decoded = decode_index_map(encode_index_map(np.array([[3, 4]], dtype=np.uint8)))

    assert decoded.dtype == np.dtype(np.uint16)
    assert decoded.flags.writeable
    assert np.array_equal(decoded, [[3, 4]])


@settings(max_examples=60, deadline=None)
@given(
    index_map=hnp.arrays(
        dtype=np.uint16,
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
        elements=st.one_of(st.integers(0, 255), st.integers(0, 65535)),
    )
)
def test_decode_inverts_encode_for_any_map(index_map):
    assert np.array_equal(decode_index_map(encode_index_map(index_map)), index_map)


def test_decode_reads_pillow_written_8_bit_png():
    index_map = np.array([[0, 9, 200]], dtype=np.uint8)

    assert np.array_equal(decode_index_map(pillow_png(Image.fromarray(index_map))), index_map)


@pytest.mark.parametrize("byte_order", ["<u2", ">u2"])
def test_decode_reads_pillow_written_16_bit_png_from_either_byte_order(byte_order):
    source = Image.fromarray(MAP_16_BIT.astype(byte_order))

    assert np.array_equal(decode_index_map(pillow_png(source)), MAP_16_BIT)


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4], ids=["none", "sub", "up", "average", "paeth"])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_decode_reads_every_png_filter_type(filter_type, bit_depth):
    rng = np.random.default_rng(filter_type)
    high = 255 if bit_depth == 8 else 65535
    index_map = rng.integers(0, high, size=(7, 9), endpoint=True).astype(np.uint16)

    data = png_with_filter(index_map, bit_depth=bit_depth, filter_type=filter_type)

    assert np.array_equal(decode_index_map(data), index_map)


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_decode_reads_adam7_interlaced_png(bit_depth):
    index_map = (np.arange(11 * 13).reshape(11, 13) * (1 if bit_depth == 8 else 397)).astype(np.uint16)

    assert np.array_equal(decode_index_map(interlaced_png(index_map, bit_depth=bit_depth)), index_map)


def test_decode_reads_image_data_split_over_several_chunks():
    index_map = np.arange(60, dtype=np.uint16).reshape(6, 10)
    stream = zlib.compress(filter_rows(sample_rows(index_map, 8), 0, 1))
    split = b"".join(chunk(b"IDAT", stream[i : i + 7]) for i in range(0, len(stream), 7))

    data = SIGNATURE + ihdr(10, 6) + split + chunk(b"tEXt", b"Comment\x00hi") + chunk(b"IEND", b"")

    assert np.array_equal(decode_index_map(data), index_map)


def test_decode_ignores_a_grayscale_transparency_chunk():
    index_map = np.array([[0, 1, 2]], dtype=np.uint8)

    data = pillow_png(Image.fromarray(index_map), transparency=0)

    assert b"tRNS" in data
    assert np.array_equal(decode_index_map(data), index_map)


def test_decode_accepts_the_expected_shape():
    decoded = decode_index_map(encode_index_map(MAP_16_BIT), expected_shape=(2, 4))

    assert decoded.shape == (2, 4)


# --- decoding invalid files ----------------------------------------------------------------------


def test_decode_rejects_data_that_is_not_a_png():
    with pytest.raises(MaskFormatError, match="not a PNG file: the 8-byte PNG signature is missing"):
        decode_index_map(b"GIF89a\x01\x00\x01\x00")


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (8, "PNG is truncated: it ends before the IEND chunk"),
        (20, "PNG is truncated inside the IHDR chunk at byte 8"),
        (-20, "PNG is truncated inside the IDAT chunk"),
        (-5, "PNG is truncated: it ends before the IEND chunk"),
    ],
)
def test_decode_rejects_truncated_files(keep, message):
    data = encode_index_map(MAP_16_BIT)

    with pytest.raises(MaskFormatError, match=message):
        decode_index_map(data[:keep])


def test_decode_rejects_truncated_files_even_when_pillow_is_told_to_load_them(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    stream = zlib.compress(bytes(4 * (1 + 4)))

    with pytest.raises(MaskFormatError, match="compressed image data stream is incomplete"):
        decode_index_map(png_with_raw_stream(4, 4, stream[:-6]))


def test_decode_rejects_a_chunk_whose_crc_does_not_match():
    data = bytearray(encode_index_map(MAP_16_BIT))
    data[41] ^= 0xFF  # a byte of the IDAT payload (IDAT starts at byte 33)

    with pytest.raises(MaskFormatError, match="CRC mismatch in the IDAT chunk at byte 33"):
        decode_index_map(bytes(data))


def test_decode_rejects_image_data_that_does_not_inflate():
    with pytest.raises(MaskFormatError, match="image data does not inflate"):
        decode_index_map(png_with_raw_stream(2, 2, b"not zlib at all"))


def test_decode_rejects_image_data_shorter_than_the_header_declares():
    stream = zlib.compress(bytes(5))  # 2x2 8-bit needs 2 rows of (1 + 2) bytes

    with pytest.raises(MaskFormatError, match="inflates to 5 bytes, its header declares 6"):
        decode_index_map(png_with_raw_stream(2, 2, stream))


def test_decode_rejects_image_data_longer_than_the_header_declares():
    stream = zlib.compress(bytes(7))

    with pytest.raises(MaskFormatError, match="more than the 6 bytes its header declares"):
        decode_index_map(png_with_raw_stream(2, 2, stream))


def test_decode_rejects_an_invalid_filter_type_byte():
    stream = zlib.compress(bytes([9, 0, 0, 9, 0, 0]))

    with pytest.raises(MaskFormatError, match="PNG could not be decoded"):
        decode_index_map(png_with_raw_stream(2, 2, stream))


def test_decode_rejects_a_file_without_image_data():
    with pytest.raises(MaskFormatError, match=r"PNG has no image data \(IDAT chunk\)"):
        decode_index_map(SIGNATURE + ihdr(2, 2) + chunk(b"IEND", b""))


def test_decode_rejects_a_file_that_does_not_start_with_its_header():
    with pytest.raises(MaskFormatError, match="first chunk is IDAT, not IHDR"):
        decode_index_map(SIGNATURE + chunk(b"IDAT", b"") + chunk(b"IEND", b""))


def test_decode_rejects_image_data_chunks_that_are_not_consecutive():
    stream = zlib.compress(bytes(6))
    data = (
        SIGNATURE
        + ihdr(2, 2)
        + chunk(b"IDAT", stream[:4])
        + chunk(b"tEXt", b"a\x00b")
        + chunk(b"IDAT", stream[4:])
        + chunk(b"IEND", b"")
    )

    with pytest.raises(MaskFormatError, match="IDAT chunks are not consecutive"):
        decode_index_map(data)


def test_decode_rejects_an_unknown_critical_chunk():
    data = SIGNATURE + ihdr(2, 2) + chunk(b"ZZZZ", b"") + chunk(b"IDAT", zlib.compress(bytes(6)))

    with pytest.raises(MaskFormatError, match="unknown critical chunk ZZZZ"):
        decode_index_map(data + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("RGB", r"must be single-channel grayscale, got RGB colour \(8-bit\)"),
        ("RGBA", r"must be single-channel grayscale, got RGBA colour \(8-bit\)"),
        ("LA", r"must be single-channel grayscale, got grayscale with alpha \(8-bit\)"),
        ("P", r"must be single-channel grayscale, got palette \(indexed colour\)"),
    ],
)
def test_decode_rejects_colour_palette_and_alpha_pngs_naming_the_mode(mode, message):
    with pytest.raises(MaskFormatError, match=message):
        decode_index_map(pillow_png(Image.new(mode, (3, 2))))


@pytest.mark.parametrize("bit_depth", [1, 2, 4])
def test_decode_rejects_grayscale_below_8_bits(bit_depth):
    data = SIGNATURE + ihdr(8, 1, bit_depth=bit_depth) + chunk(b"IDAT", zlib.compress(bytes(2)))

    with pytest.raises(MaskFormatError, match=f"must be 8- or 16-bit grayscale, got {bit_depth}-bit"):
        decode_index_map(data + chunk(b"IEND", b""))


def test_decode_rejects_a_shape_other_than_expected():
    with pytest.raises(MaskFormatError, match=r"PNG is 2x4 \(height x width\), but the image is 4x2"):
        decode_index_map(encode_index_map(MAP_16_BIT), expected_shape=(4, 2))


def test_decode_refuses_more_pixels_than_pillow_allows_with_an_error_not_a_warning(monkeypatch):
    # 8 pixels against a limit of 5: Pillow itself would only warn (it raises above twice the limit).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MaskFormatError, match=r"8 pixels \(2x4\), more than the limit of 5"):
            decode_index_map(encode_index_map(MAP_16_BIT))


def test_decode_refuses_a_decompression_bomb_before_inflating_it():
    # The header claims 100000 x 100000 pixels; the data behind it is never inflated.
    data = (
        SIGNATURE + ihdr(100_000, 100_000) + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b"")
    )

    with pytest.raises(MaskFormatError, match="refusing a possible decompression bomb"):
        decode_index_map(data)


def test_decode_has_no_pixel_limit_when_pillow_has_none(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    assert np.array_equal(decode_index_map(encode_index_map(MAP_16_BIT)), MAP_16_BIT)
