"""What a dock photo must be before it is kept: a real JPEG, PNG or WebP (read from the bytes), within
the size limit, whole, not a decompression bomb; its EXIF location stripped or kept as the policy says,
and nothing else of the picture changed."""

import io

import pytest
from PIL import Image

from sealguard.evidence.photos import GPS_IFD, PhotoRefused, accept

MAX = 4 * 1024 * 1024


def _jpeg(gps: bool, size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: not a location, kept
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (29.0, 25.0, 0.0), 3: "W", 4: (98.0, 29.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def _exif(data: bytes) -> Image.Exif:
    return Image.open(io.BytesIO(data)).getexif()


def test_a_location_is_stripped_by_default_and_the_rest_kept() -> None:
    photo = accept(_jpeg(gps=True), max_bytes=MAX, location="strip")
    assert photo.location == "stripped" and photo.content_type == "image/jpeg"
    exif = _exif(photo.data)
    assert not exif.get_ifd(GPS_IFD) and exif[0x010F] == "PhoneMaker"
    assert (photo.width, photo.height) == (64, 48)


def test_a_location_is_kept_when_the_policy_says_so_and_the_bytes_are_as_sent() -> None:
    raw = _jpeg(gps=True)
    photo = accept(raw, max_bytes=MAX, location="keep")
    assert photo.location == "kept" and photo.data == raw


def test_a_photo_without_a_location_is_kept_byte_for_byte() -> None:
    raw = _jpeg(gps=False)
    photo = accept(raw, max_bytes=MAX, location="strip")
    assert photo.location == "none" and photo.data == raw


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_photos_too(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format=fmt)
    assert accept(out.getvalue(), max_bytes=MAX, location="strip").content_type == f"image/{fmt.lower()}"


def test_what_is_not_a_photo_is_refused_with_the_reason() -> None:
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, format="GIF")
    cases = {
        b"": (422, "empty"),
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>": (415, "not a readable"),
        gif.getvalue(): (415, "GIF"),
        _jpeg(gps=False)[:300]: (415, "not a readable"),  # truncated
        b"\xff\xd8" + b"A" * 100: (415, "not a readable"),  # a JPEG's magic and nothing after
        _jpeg(gps=False) + b"x" * MAX: (413, "at most"),
    }
    for raw, (status, words) in cases.items():
        with pytest.raises(PhotoRefused) as refused:
            accept(raw, max_bytes=MAX, location="strip")
        assert refused.value.status == status and words in str(refused.value), (raw[:20], refused.value)


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")  # 144 Mpx in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(PhotoRefused) as refused:
        accept(out.getvalue(), max_bytes=MAX, location="strip")
    assert refused.value.status in {413, 415}
