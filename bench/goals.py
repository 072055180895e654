"""Issue 23's goals, printed beside the figures they judge (never asserted: the figures depend on the
machine). One wording for every benchmark, so ``make bench`` reads as one report; and the one percentile
the latency figures are taken with."""


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); NaN for none."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def at_least(value: float, goal: float, what: str = "") -> str:
    """``(goal >= 20,000 events/s: met)`` or ``... MISSED``."""
    return _verdict(value >= goal, f">= {_num(goal)}{what}")


def at_most(value: float, goal: float, what: str = "") -> str:
    return _verdict(value <= goal, f"<= {_num(goal)}{what}")


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:g}"


def _verdict(met: bool, goal: str) -> str:
    return f"(goal {goal}: {'met' if met else 'MISSED'})"
