"""`creditflow export otel --endpoint`: the credits of imported traces sent to a local
OTLP/HTTP receiver that parses every request with the official OTLP message types
(opentelemetry-proto's ExportLogsServiceRequest through protobuf's JSON parser), as a
collector would, and checks that every record points at a span of the traces."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, cli_path, missing, read_jsonl
from google.protobuf import json_format

TRACES = REPO / "tests" / "data" / "otlp"
JUDGE = REPO / "examples" / "traces" / "judge.jsonl"
RECORDINGS = [TRACES / f"adk_v2_{s}.json" for s in ("S4a", "S4b", "S6a")]
# Where python/requirements-otlp.txt is installed (see that file for why not beside Ray).
PROTO_DIR = Path(os.environ.get("CREDITFLOW_OTLP_PROTO", REPO / "target" / "python-otlp"))
ExportLogsServiceRequest: Any = None


@pytest.fixture(scope="module", autouse=True)
def otlp_messages() -> Iterator[None]:
    """The official message types, importable for this module only: the path and the
    `opentelemetry` modules are removed again afterwards, so Ray never sees them."""
    global ExportLogsServiceRequest
    added = PROTO_DIR.is_dir() and str(PROTO_DIR) not in sys.path
    if added:
        sys.path.insert(0, str(PROTO_DIR))
    try:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    except ImportError:
        install = f"pip install --no-deps --target {PROTO_DIR} -r python/requirements-otlp.txt"
        missing(f"opentelemetry-proto ({install})")
    ExportLogsServiceRequest = logs_service_pb2.ExportLogsServiceRequest
    yield
    ExportLogsServiceRequest = None
    if added:
        sys.path.remove(str(PROTO_DIR))
        for name in [
            m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")
        ]:
            del sys.modules[name]


def hex_ids_to_base64(value: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping of
    `bytes` expects base64 (the one difference the OTLP specification lists); every
    other field goes to the parser unchanged."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("traceId", "spanId") and isinstance(v, str):
                out[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                out[k] = hex_ids_to_base64(v)
        return out
    if isinstance(value, list):
        return [hex_ids_to_base64(v) for v in value]
    return value


class Receiver:
    """An OTLP/HTTP logs receiver on 127.0.0.1 that answers with `script` statuses in
    turn (then 200) and keeps every parsed request."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.problems: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server hook name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                status = receiver.script.pop(0) if receiver.script else 200
                if status == 200:
                    try:
                        if self.headers.get("Content-Encoding") != "gzip":
                            raise ValueError("body not gzip-encoded")
                        if self.headers.get("Content-Type") != "application/json":
                            raise ValueError("not application/json")
                        doc = json.loads(gzip.decompress(body))
                        request = ExportLogsServiceRequest()
                        json_format.ParseDict(hex_ids_to_base64(doc), request)
                        receiver.requests.append(request)
                    except Exception as e:  # noqa: BLE001 (reported by the test)
                        receiver.problems.append(repr(e))
                        status = 400
                reply = b"{}" if status == 200 else b'{"message": "try later"}'
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    binary = cli_path()
    if binary is None:
        missing("the creditflow command line (set CREDITFLOW_BIN)")
    work = tmp_path_factory.mktemp("endpoint")
    episodes, scored = work / "episodes.jsonl", work / "scored.jsonl"
    for args in (
        ["import", *map(str, RECORDINGS), str(JUDGE), "--evaluation", "judge", "-o", str(episodes)],
        ["score", str(episodes), "-o", str(scored)],
    ):
        subprocess.run([binary, *args], check=True, capture_output=True)
    yield scored


def export(
    scored: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    binary = cli_path()
    assert binary is not None
    args = [binary, "export", "otel", str(scored), "--traces", *map(str, RECORDINGS), *extra]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})


def span_ids() -> set[tuple[str, str]]:
    ids = set()
    for path in RECORDINGS:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    ids.add((span["traceId"].lower(), span["spanId"].lower()))
    return ids


def test_records_reach_the_receiver_and_point_at_spans(scored: Path, tmp_path: Path) -> None:
    out = tmp_path / "credits.otlp.jsonl"
    with Receiver(script=[503]) as rx:
        run = export(
            scored,
            "-o",
            str(out),
            "--endpoint",
            rx.url,
            "--header",
            "x-team=credit",
            env={"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Basic%20dXNlcjpwdw%3D%3D,x-team=env"},
        )
    assert run.returncode == 0, run.stderr
    assert not rx.problems, rx.problems
    assert "retrying" in run.stderr, run.stderr
    assert rx.paths and all(p == "/v1/logs" for p in rx.paths)
    # The retried request and the accepted one carry the same headers.
    for headers in rx.headers:
        assert headers["authorization"] == "Basic dXNlcjpwdw=="
        assert headers["x-team"] == "credit"
    sent = [
        (r.trace_id.hex(), r.span_id.hex(), attrs)
        for req in rx.requests
        for rl in req.resource_logs
        for sl in rl.scope_logs
        for r in sl.log_records
        for attrs in [{a.key: a.value for a in r.attributes}]
    ]
    written = [
        record
        for doc in read_jsonl(out)
        for rl in doc["resourceLogs"]
        for sl in rl["scopeLogs"]
        for record in sl["logRecords"]
    ]
    assert len(sent) == len(written) > 0
    spans = span_ids()
    for trace, span, attrs in sent:
        assert (trace, span) in spans, (trace, span)
        assert attrs["gen_ai.evaluation.name"].string_value.startswith("creditflow.")
    assert f"sent {len(sent)} evaluation records" in run.stderr, run.stderr
    # The credits in the requests are the credits of the file.
    credits = sorted(a["gen_ai.evaluation.score.value"].double_value for _, _, a in sent)
    want = sorted(
        next(
            a["value"]["doubleValue"]
            for a in r["attributes"]
            if a["key"] == "gen_ai.evaluation.score.value"
        )
        for r in written
        if any(a["key"] == "gen_ai.evaluation.score.value" for a in r["attributes"])
    )
    assert credits == pytest.approx(want, abs=0)


def test_without_output_only_the_receiver_gets_records(scored: Path) -> None:
    with Receiver(script=[]) as rx:
        run = export(scored, "--endpoint", rx.url + "/custom/")
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert rx.paths == ["/custom/v1/logs"]
    assert (
        sum(
            len(sl.log_records)
            for req in rx.requests
            for rl in req.resource_logs
            for sl in rl.scope_logs
        )
        > 0
    )


def test_a_client_error_is_a_clear_failure(scored: Path) -> None:
    with Receiver(script=[401]) as rx:
        run = export(scored, "--endpoint", rx.url)
    assert run.returncode != 0
    assert "answered 401" in run.stderr and "try later" in run.stderr, run.stderr
    assert len(rx.paths) == 1, "a 401 is not retried"


def test_bad_endpoints_and_headers_are_usage_errors(scored: Path) -> None:
    for extra in (
        ["--endpoint", "https://cloud.example"],
        ["--endpoint", "http://h", "--header", "Host=x"],
    ):
        run = export(scored, *extra)
        assert run.returncode != 0
        assert "--endpoint" in run.stderr or "--header" in run.stderr, run.stderr
    run = export(
        scored, "--endpoint", "http://127.0.0.1:1", env={"OTEL_EXPORTER_OTLP_HEADERS": "k=%zz"}
    )
    assert run.returncode != 0 and "OTEL_EXPORTER_OTLP_HEADERS" in run.stderr, run.stderr
