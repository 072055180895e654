"""The data path's collector settings (``sealguard.collector``): less often, and start-up frozen, but
cyclic garbage made afterwards is still found without anyone calling ``gc.collect``. Run in a child
process: freezing this test process's objects would hide them from the collector for the whole session."""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from sealguard import collector

    class Node:
        pass

    before = Node(); before.me = before  # a cycle from start-up: frozen, out of the collector's walks
    collector.collect_less_often()
    collector.settle()
    assert gc.get_threshold() == (collector.YOUNG_EVERY, 10, 10), gc.get_threshold()
    assert gc.get_freeze_count() > 0
    frozen = weakref.ref(before)
    del before

    after = Node(); after.me = after  # a cycle made while running: garbage once dropped
    dead = weakref.ref(after)
    del after
    junk = [[i] for i in range(3 * collector.YOUNG_EVERY)]  # allocations enough for young collections
    assert dead() is None, "a cycle made after settling was not collected"
    assert frozen() is not None  # what was frozen is not walked (a cycle there outlives its use)
    print("ok")
    """
)


def test_cycles_made_after_settling_are_still_collected() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
