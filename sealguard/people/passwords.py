"""Password hashes: scrypt from the standard library (memory-hard, RFC 7914), a random salt per hash,
and the parameters stored with the hash so they can be raised later without breaking old ones.

n=2**15, r=8, p=1 costs about 32 MiB and tens of milliseconds per try: cheap for a person signing in,
expensive for someone trying a list of passwords against a stolen table."""

import base64
import hashlib
import hmac
import os

N, R, P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
MIN_LENGTH = 10  # NIST SP 800-63B asks for at least 8; a site that picks its own may ask more
MAX_LENGTH = 1024  # long enough for any passphrase, short enough that hashing it is no attack


def hash_password(password: str, *, salt: bytes | None = None, n: int = N) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=R, p=P, maxmem=_MAXMEM, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``. With no stored hash (an unknown user, or a person who
    signs in only through the IdP) a dummy hash is still computed, so timing does not tell which."""
    if len(password) > MAX_LENGTH:
        return False
    if stored is None:
        hash_password(password, salt=b"\0" * 16)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(want))  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


def weakness(password: str, username: str) -> str | None:
    """Why a new password is refused, or None. Length is what matters (SP 800-63B); no composition rules."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    if username and username.lower() in password.lower():
        return "a password may not contain the username"
    if len(set(password)) < 4:
        return "a password needs more than a few distinct characters"
    return None
