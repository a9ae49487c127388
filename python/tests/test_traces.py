"""OpenTelemetry traces into scores from Python (DESIGN §2.5, §8): the real Google ADK
recordings of tests/data/otlp with the example judge's evaluations."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

import creditflow

TRACES = REPO / "tests" / "data" / "otlp"
JUDGE = REPO / "examples" / "traces" / "judge.jsonl"
RECORDINGS = [TRACES / f"adk_v2_{s}.json" for s in ("S4a", "S4b", "S6a")]


def test_traces_import_and_score_like_the_command_line() -> None:
    episodes = creditflow.import_traces([*RECORDINGS, JUDGE], evaluation="judge")
    assert [e["id"] for e in episodes] == [
        "a431b808b2875b517ac14878e4ed7673",
        "779ecfb269b7f0ff71cf724e589c23ba",
        "ef78e41d9b937ba1cddedb3be236370a",
    ]
    transfer = episodes[0]
    assert transfer["agents"] == ["coordinator", "billing_agent"]
    assert [m["id"] for m in transfer["messages"]][2] == "4052e168cae3a7ff"
    assert transfer["messages"][2]["parents"] == ["53f4878dc2eea52e"]
    assert transfer["messages"][2]["score"] == 0.7
    result = creditflow.score(episodes)
    records = result.to_records()
    failed = records[2]
    assert failed["branch"] == "failure"
    assert failed["first_error"]["message"] == "d4d149813ec462be"
    for r in records:
        total = sum(a["credit"] for a in r["agents"])
        assert total == pytest.approx(r["reward"] - r["baseline"], abs=1e-12)


def test_broken_traces_warn_or_raise(tmp_path) -> None:
    doc = json.loads((TRACES / "adk_v2_S6a.json").read_text())
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = "soon"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="ef78e41d9b937ba1cddedb3be236370a.*startTimeUnixNano"):
        episodes = creditflow.import_traces([RECORDINGS[0], bad])
    assert len(episodes) == 1
    with pytest.raises(ValueError, match="could not be imported"):
        creditflow.import_traces([bad], strict=True)
    with pytest.raises(ValueError, match="score_range"):
        creditflow.import_traces([bad], score_range=(1, 0))


def test_labels_with_commas_and_equals_signs(tmp_path) -> None:
    """Labels pass to the library as pairs, never as command-line text."""
    episodes = creditflow.import_traces(RECORDINGS[:1], label_score={"a, b=c": 1.0, "plain": -1.0})
    assert len(episodes) == 1
    with pytest.raises(TypeError, match="unexpected keyword argument 'samples'"):
        creditflow.import_traces(RECORDINGS[:1], samples=3)
