"""Which counters a sign-in attempt is throttled by. Pure.

Following NIST SP 800-63B (5.2.2, rate limiting) and OWASP's authentication cheat sheet (device
cookies), failures are counted per key, never per process, and never so that one attacker can lock out
everyone behind a shared address:

- a browser that has signed in to the account before (it holds that account's *device cookie*) is
  throttled only by its own failures: an attack from elsewhere, or from the same office, does not lock
  its person out;
- any other attempt counts against the account from that address (``pair``), against the account from
  every address (``account``: a slow, distributed guess), and against that address over every account
  (``address``: password spraying).

The account is named by the name typed, whether or not it exists, and every answer (401, then 429) is
the same either way: nothing tells which names are accounts. A lock ends after ``lock_for`` and leaves
nothing behind, so one guess a quarter of an hour cannot keep an account locked."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    pair: int = 5  # failures of one account from one address (browsers it does not know)
    account: int = 20  # of one account from all addresses; NIST allows up to 100
    address: int = 30  # from one address over all accounts
    device: int = 5  # of one trusted browser
    lock_for: timedelta = timedelta(minutes=15)


def account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def counters(limits: ThrottleLimits, username: str, address: str | None,
             device: str | None) -> list[tuple[str, int]]:  # fmt: skip
    """``(key, limit)`` of every counter an attempt is judged by; ``device`` is the hash of a device
    cookie that belongs to this account (None: a browser it does not know)."""
    if device is not None:
        return [(f"device:{device}", limits.device)]
    account = account_key(username)
    where = address or "unknown"
    pair = hashlib.sha256(f"{account} {where}".encode()).hexdigest()
    return [(f"pair:{pair}", limits.pair), (f"account:{account}", limits.account), (f"address:{where}", limits.address)]


def cleared_by_success(keys: list[tuple[str, int]]) -> list[str]:
    """What a sign-in that went through clears: its own runs, not the address's (one good password of
    the sprayer's own must not wipe the count of its guesses at others)."""
    return [k for k, _ in keys if not k.startswith("address:")]
