"""The worker's reading of record headers, which anyone who can write to the events topic chooses."""

from sealguard.roles.worker import _short_source, _source


def test_a_source_header_is_read_as_text_and_only_short_ones_are_kept() -> None:
    _short_source.cache_clear()
    assert _source(b"mqtt") == "mqtt"
    assert _source(b"\xff\xfehttp") == "\ufffd\ufffdhttp"  # not UTF-8: replaced, never raised
    long = b"x" * 1_000_000
    assert _source(long) == "x" * 1_000_000
    for i in range(100):  # more distinct long values than the cache holds: none kept
        _source(long + str(i).encode())
    assert _short_source.cache_info().currsize == 2
