"""Ctrl-C during a long call: `score` raises KeyboardInterrupt within about a second
instead of running to completion and discarding its work (the scoring runs without the
GIL, so the signal is only seen because the call polls for it between chunks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

# A batch that takes minutes to score on one thread (so that only an interrupt can end
# the call within the test's timeout): 400 chats of 3 agents x 40 messages, 20,000
# sampled permutations each.
CHILD = r"""
import sys
import creditflow

records = []
for e in range(400):
    messages = [{"id": "t", "agent": None, "parents": []}]
    for k in range(40):
        messages.append({"id": f"m{k}", "agent": "abc"[k % 3], "score": ((k * 7) % 5 - 2) / 2})
    records.append({"id": f"ep-{e}", "messages": messages, "outcome": {"reward": 1.0}})
print("started", flush=True)
try:
    creditflow.score(records, method="permutation", samples=20000, threads=1, backend="cpu")
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
print("completed", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_score_within_a_second():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert child.stdout.readline().strip() == "started", child.stderr.read()
        # Let the call get going (input encoded, the first chunks on their way).
        time.sleep(1.0)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "completed" not in out, "the call ran to completion: the interrupt was not seen"
    assert child.returncode == 3 and "interrupted" in out, (child.returncode, out, err)
    assert took < 3.0, f"the interrupt took {took:.1f} s to end the call"
