"""A dock photo as evidence: its type checked from its bytes (never from what the sender says), its size
bounded, and its EXIF location stripped or kept as the site's policy says. Pure: bytes in, bytes to
store out.

A photo is kept as sent unless its location must go: then only the GPS block is removed and the image is
written again at the quality it came with (JPEG ``quality="keep"``), so the picture is the one taken.
The stored bytes are what the package holds and what their SHA-256 is of."""

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

from sealguard.errors import SealguardError

LocationPolicy = Literal["strip", "keep"]
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # a 40-megapixel camera; past it a small file may be a decompression bomb
GPS_IFD = 0x8825


class PhotoRefused(SealguardError, ValueError):
    """Not a photo sealguard keeps, with the HTTP status that says why: 413 too large, 415 not a JPEG,
    PNG or WebP image (or unreadable as one), 422 empty."""

    def __init__(self, reason: str, status: int = 415) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Photo:
    data: bytes
    content_type: str
    sha256: str
    location: Literal["none", "stripped", "kept"]
    width: int
    height: int


def accept(raw: bytes, *, max_bytes: int, location: LocationPolicy) -> Photo:
    if not raw:
        raise PhotoRefused("an empty photo", 422)
    if len(raw) > max_bytes:
        raise PhotoRefused(f"a photo of {len(raw)} bytes; at most {max_bytes}", 413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            fmt = image.format or ""
            if fmt not in TYPES:
                raise PhotoRefused(f"a {fmt or 'unknown'} image; a photo must be JPEG, PNG or WebP")
            if image.width * image.height > MAX_PIXELS:
                raise PhotoRefused(f"{image.width} x {image.height} pixels; at most {MAX_PIXELS:,}", 413)
            image.load()  # the whole image decodes: a truncated or corrupt file is refused here
            exif = image.getexif()
            has_location = bool(exif.get_ifd(GPS_IFD)) or GPS_IFD in exif
            kept = raw
            status: Literal["none", "stripped", "kept"] = "none"
            if has_location and location == "keep":
                status = "kept"
            elif has_location:
                status = "stripped"
                exif.pop(GPS_IFD, None)
                out = io.BytesIO()
                extra = {"quality": "keep"} if fmt == "JPEG" else {}
                image.save(out, format=fmt, exif=exif.tobytes(), **extra)
                kept = out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        if isinstance(exc, PhotoRefused):
            raise
        raise PhotoRefused(f"not a readable JPEG, PNG or WebP image ({type(exc).__name__})") from None
    return Photo(kept, TYPES[fmt], hashlib.sha256(kept).hexdigest(), status, image.width, image.height)
