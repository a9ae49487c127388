"""creditflow.token_rewards: per-message rewards scattered onto each turn's last token."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from conftest import EXAMPLES

import creditflow


@pytest.fixture
def messages() -> pa.Table:
    """A hand-made messages table: episode a (messages 1-3), episode b (0-1)."""
    return pa.table(
        {
            "episode_id": ["a", "a", "a", "b", "b"],
            "message_id": ["m1", "m2", "m3", "x", "y"],
            "agent": ["p", "q", "p", "p", "q"],
            "index": pa.array([1, 2, 3, 0, 1], pa.uint32()),
            "credit": [0.25, -0.5, 1.0, 0.1, 0.3],
            "se": [0.0] * 5,
            "reward": [0.5, -1.0, 2.0, 0.75, 0.125],
        }
    )


#: Row a by position in the episode: index 0 (the environment) has no token, m1 ends
#: at 3, m2 is not in the sequence (-1), m3 ends at 3 too. Row b by message id.
ENDS = [[None, 3, -1, 3], {"x": 0, "y": 5}]


def test_worked_example(messages):
    out = creditflow.token_rewards(messages, ENDS, length=8)
    assert out.dtype == np.float32 and out.shape == (2, 8)
    want = np.zeros((2, 8), np.float32)
    want[0, 3] = 0.5 + 2.0  # m1 and m3 end on one token: they add up
    want[1, 0] = 0.75
    want[1, 5] = 0.125
    assert np.array_equal(out, want)


def test_credit_column(messages):
    out = creditflow.token_rewards(messages, ENDS, length=6, column="credit")
    want = np.zeros((2, 6), np.float32)
    want[0, 3] = np.float32(0.25) + np.float32(1.0)
    want[1, 0] = np.float32(0.1)
    want[1, 5] = np.float32(0.3)
    assert out.shape == (2, 6)
    assert np.array_equal(out, want)


def test_skipped_positions(messages):
    # None and -1 skip; a dict leaves out the messages it does not name.
    out = creditflow.token_rewards(messages, [[None, 2, None, None], {}], length=4)
    want = np.zeros((2, 4), np.float32)
    want[0, 2] = 0.5
    assert np.array_equal(out, want)
    out = creditflow.token_rewards(messages, [[-1, -1, -1, -1], {"x": None, "y": -1}], 4)
    assert not out.any()
    # numpy integers are positions too.
    out = creditflow.token_rewards(messages, [[None, np.int64(2), None, None], {}], length=4)
    assert out[0, 2] == np.float32(0.5)


def test_nothing_is_dropped_silently(messages):
    # An episode that is not in the result: a KeyError naming it (never a row of zeros).
    with pytest.raises(KeyError, match="'zz'"):
        creditflow.token_rewards(messages, [{}, ENDS[1]], length=8, episodes=["zz", "b"])
    # A list shorter than the episode's messages: its last messages would vanish.
    with pytest.raises(ValueError, match="ends\\[0\\] has 2 positions.*index 3"):
        creditflow.token_rewards(messages, [[None, 2], {}], length=4)
    # A dict naming a message the episode does not have.
    with pytest.raises(ValueError, match="does not have"):
        creditflow.token_rewards(messages, [[None] * 4, {"nope": 1}], length=4)
    # A position that is not an integer is an error, not truncated.
    with pytest.raises(TypeError, match="3.7"):
        creditflow.token_rewards(messages, [[None, 3.7, None, None], {}], length=8)
    with pytest.raises(TypeError, match="True"):
        creditflow.token_rewards(messages, [[None, True, None, None], {}], length=8)


def test_episodes_order_and_subset(messages):
    swapped = creditflow.token_rewards(messages, ENDS[::-1], length=8, episodes=["b", "a"])
    assert np.array_equal(swapped, creditflow.token_rewards(messages, ENDS, length=8)[::-1])
    only_b = creditflow.token_rewards(messages, [{"x": 1}], length=3, episodes=["b"])
    assert np.array_equal(only_b, np.array([[0.0, 0.75, 0.0]], np.float32))


def test_bad_positions_and_rows(messages):
    with pytest.raises(ValueError, match="'b', message 'y': token position 5 is past the length 4"):
        creditflow.token_rewards(messages, ENDS, length=4)
    with pytest.raises(ValueError, match=r"'y'.*position 5.*length 5"):
        creditflow.token_rewards(messages, [[None] * 4, {"y": 5}], length=5)
    # The last token is fine.
    out = creditflow.token_rewards(messages, [[None] * 4, {"y": 4}], length=5)
    assert out[1, 4] == np.float32(0.125)
    with pytest.raises(ValueError, match="3 rows of ends for 2 episodes"):
        creditflow.token_rewards(messages, ENDS + [{}], length=8)


def test_from_a_result():
    """With a Result: batch rows are the episodes with messages, in order."""
    r = creditflow.score(EXAMPLES)
    msgs = r.messages
    episodes = list(dict.fromkeys(msgs["episode_id"].to_pylist()))
    assert episodes == ["ep-17", "ep-18", "ep-19", "ep-20", "ep-21"]
    # Each message's turn ends at token 2 * index + 1.
    ends = [[2 * i + 1 for i in range(6)] for _ in episodes]
    out = creditflow.token_rewards(r, ends, length=12)
    assert out.shape == (5, 12)
    want = np.zeros((5, 12), np.float32)
    for e, i, v in zip(
        msgs["episode_id"].to_pylist(),
        msgs["index"].to_pylist(),
        msgs["reward"].to_pylist(),
        strict=True,
    ):
        want[episodes.index(e), 2 * i + 1] += np.float32(v)
    assert np.array_equal(out, want)
    assert np.array_equal(out, creditflow.token_rewards(msgs, ends, length=12))
    # Row sums are each episode's message rewards: ep-19 (failure, every credit 0) gets
    # the repair schedule / M, (-1 - 0.5 + 0.5) / 4.
    assert out[2].sum() == pytest.approx(-0.25, abs=1e-6)
    assert out.sum(axis=1)[[0, 1, 3, 4]] == pytest.approx([1.0, 0.8, 0.9, 1.0], abs=1e-6)


def test_result_rows_include_episodes_without_messages():
    r = creditflow.score(
        [
            {
                "id": "e0",
                "agents": ["a"],
                "messages": [{"id": "t", "agent": None}],
                "outcome": {"reward": 1.0},
            },
            {
                "id": "e1",
                "agents": ["a"],
                "messages": [{"id": "t", "agent": None}, {"id": "u", "agent": "a"}],
                "outcome": {"reward": 1.0},
            },
        ]
    )
    assert r.episodes["episode_id"].to_pylist() == ["e0", "e1"]
    out = creditflow.token_rewards(r, [[0, 1], [0, 1]], length=2)
    assert not out[0].any() and out[1, 1] == np.float32(1.0)
