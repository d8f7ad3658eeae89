"""Decoding and resizing single images with Pillow into uint8 arrays.

Only PNG and JPEG are decoded, recognised by their first bytes whatever the file is called, and
through those two Pillow plugins alone: a PostScript, TIFF or SVG file renamed `.png` never
reaches another decoder (Pillow's EPS plugin would start Ghostscript). The pixel count in the
header is checked before any pixel is decoded, against `max_pixels` (`data.max_image_pixels`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, JpegImagePlugin, PngImagePlugin

from featpipe.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

#: Default pixel limit per image: 40 megapixels (a high-end camera's photo, 120 MB as RGB).
#: Set data.max_image_pixels to change it; it cannot exceed Pillow's own bomb limit.
MAX_IMAGE_PIXELS = 40_000_000
PILLOW_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

_DECODERS = {"PNG": PngImagePlugin.PngImageFile, "JPEG": JpegImagePlugin.JpegImageFile}

# First bytes of the formats people put in image folders, to say what a refused file is.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%!PS", "a PostScript file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS (PostScript) file"),
    (b"%PDF", "a PDF document"),
    (b"8BPS", "a Photoshop file"),
    (b"\x00\x00\x01\x00", "a Windows icon"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"<?xml", "an XML/SVG file"),
    (b"<svg", "an SVG file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip file"),
)


def sniff_format(head: bytes) -> str:
    """"PNG", "JPEG", or a description of what the first bytes `head` are (e.g. "a TIFF image")."""
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        return "an HEIC/AVIF image or a video" if head[8:12] in (b"heic", b"heix", b"avif", b"mif1") else "an MP4/QuickTime file"
    if not head:
        return "an empty file"
    return "not an image format featpipe knows"

# Modes Pillow can hand us that carry no colour; everything else is converted to RGB.
_GRAY_MODES = {"1", "L", "LA", "La"}
_GRAY16_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
# Antialiased when shrinking (Pillow filters the whole support), sharp when enlarging.
_RESAMPLE = Image.Resampling.LANCZOS


def decode_image(path: str | Path, image_size: tuple[int, int] | None = None,
                 max_pixels: int | None = None) -> np.ndarray:
    """Decode one PNG/JPEG file to a uint8 array of shape (H, W, 1) or (H, W, 3).

    The format comes from the file's content, not its name. Grayscale files (modes 1, L, LA,
    16-bit I;16) give one channel (16-bit values keep their high byte); every other mode is
    converted to RGB, dropping any alpha channel. With `image_size` = (H, W) the image is
    resized with Pillow's antialiased Lanczos filter. An image of more than `max_pixels`
    (default MAX_IMAGE_PIXELS) pixels is refused before decoding.
    Raises DataError naming the file if it is not a readable PNG/JPEG (corrupt, truncated,
    another format, too large).
    """
    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with open(path, "rb") as f:
            kind = sniff_format(f.read(16))
            if kind not in _DECODERS:
                raise DataError(f"cannot decode image {shown_path(path)}: it is {kind}, not a PNG or JPEG "
                                "(featpipe reads only PNG and JPEG, whatever the file is called)")
            f.seek(0)
            # The plugin's constructor reads the header only; Image.open would try every plugin.
            with _DECODERS[kind](f) as img:
                width, height = img.size
                if width * height > limit:
                    raise DataError(
                        f"image {shown_path(path)} is {width}x{height} pixels ({width * height:,}), over the limit "
                        f"of {limit:,} (data.max_image_pixels); shrink the image or raise the limit "
                        f"(at most {PILLOW_MAX_PIXELS:,})"
                    )
                img.load()
                array = _to_array(img, image_size)
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot decode image {shown_path(path)}: {exc} (corrupt or truncated?)") from exc
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    return array


def image_dimensions(path: str | Path) -> tuple[int, int]:
    """(width, height) of a PNG/JPEG file from its header alone (nothing is decoded)."""
    try:
        with open(path, "rb") as f:
            kind = sniff_format(f.read(16))
            if kind not in _DECODERS:
                raise DataError(f"cannot decode image {shown_path(path)}: it is {kind}, not a PNG or JPEG")
            f.seek(0)
            with _DECODERS[kind](f) as img:
                return img.size
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DataError(f"cannot decode image {shown_path(path)}: {exc} (corrupt or truncated?)") from exc


def _to_array(img: Image.Image, image_size: tuple[int, int] | None) -> np.ndarray:
    """A decoded Pillow image as uint8 gray (H, W) or RGB (H, W, 3), resized to `image_size`."""
    if img.mode in _GRAY16_MODES:
        array = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
        img = Image.fromarray(array)  # 2-D uint8 -> mode L
    elif img.mode in _GRAY_MODES:
        img = img.convert("L")
    else:
        img = img.convert("RGB")
    if image_size is not None and img.size != (image_size[1], image_size[0]):
        img = img.resize((image_size[1], image_size[0]), _RESAMPLE)
    return np.asarray(img, dtype=np.uint8)


def shown_path(path: str | Path) -> str:
    """`path` as printable text: bytes that are not UTF-8 (kept by os as surrogates) shown escaped."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def resize_images(images: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 images (N, H, W, C) to (N, image_size[0], image_size[1], C) with Pillow.

    Returns `images` unchanged when they already have that size.
    """
    height, width = image_size
    if images.shape[1:3] == (height, width):
        return images
    out = np.empty((images.shape[0], height, width, images.shape[3]), dtype=np.uint8)
    for i, image in enumerate(images):
        squeezed = image[:, :, 0] if image.shape[2] == 1 else image
        resized = Image.fromarray(squeezed).resize((width, height), _RESAMPLE)
        out[i] = np.asarray(resized, dtype=np.uint8).reshape(height, width, images.shape[3])
    return out


def check_image_size(image_size, where: str = "data.image_size") -> tuple[int, int] | None:
    """Validate an (H, W) pair of positive ints (or None) and return it as a tuple."""
    if image_size is None:
        return None
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise DataError(f"{where}={image_size!r} must be a pair (height, width) of positive integers") from None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (height, width)):
        raise DataError(f"{where}={image_size!r} must be a pair (height, width) of positive integers")
    return int(height), int(width)
