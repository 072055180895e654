"""Issue 23's goals, printed beside the figures they judge (never asserted: the figures depend on the
machine). One wording for every benchmark, so ``make bench`` reads as one report."""


def at_least(value: float, goal: float, what: str = "") -> str:
    """``(goal >= 20,000 events/s: met)`` or ``... MISSED``."""
    return _verdict(value >= goal, f">= {_num(goal)}{what}")


def at_most(value: float, goal: float, what: str = "") -> str:
    return _verdict(value <= goal, f"<= {_num(goal)}{what}")


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:g}"


def _verdict(met: bool, goal: str) -> str:
    return f"(goal {goal}: {'met' if met else 'MISSED'})"
