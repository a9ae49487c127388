"""One huge trace: wall time and peak memory of `creditflow import` on a single trace of
10^5 or 10^6 spans, in the shapes that made the mapping quadratic before (DESIGN §2.6).

    python3 bench/otlp_one_trace.py [--spans 100000 1000000] [--bin target/release/creditflow]

Shapes (every span in one trace; spans written in a shuffled order):

- ``invocations``: a workflow root; agent invocations of 6 alternating agents, each with a
  model call (a wrapper around the provider span) and a tool execution, and every
  fourth invocation an agent called as a tool beside it; 8 spans per invocation;
- ``chains``: model calls each buried under a chain of 14 structural spans (graph steps,
  chains, transport), few messages per span — the mapping must walk deep trees in linear
  time and the trace still fits the message limit;
- ``flat``: model calls without any parent (a concurrent trace whose structure was lost):
  no `parents` are written (the scorer's `prefix` provenance applies) or, past the
  message limit, the trace is one `too_large` error.

Prints one line per (shape, spans): episodes, errors, messages, seconds, peak RSS.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

TRACE = "7b" * 16


def attr(key, value):
    return {"key": key, "value": {"stringValue": value}}


class Writer:
    def __init__(self):
        self.spans = []
        self.next_id = 1

    def span(self, parent, name, start, end, attrs):
        sid = f"{self.next_id:016x}"
        self.next_id += 1
        s = {
            "traceId": TRACE,
            "spanId": sid,
            "name": name,
            "startTimeUnixNano": str(1_790_000_000_000_000_000 + start),
            "endTimeUnixNano": str(1_790_000_000_000_000_000 + end),
            "attributes": attrs,
        }
        if parent is not None:
            s["parentSpanId"] = parent
        self.spans.append(s)
        return sid


MODEL = [attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "m")]
TOOL = [attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "search")]
INVOKE = [attr("gen_ai.operation.name", "invoke_agent")]


def invocations(n):
    w = Writer()
    root = w.span(
        None, "invoke_workflow main", 0, 100 * n, [attr("gen_ai.operation.name", "invoke_workflow")]
    )
    t = 1
    k = 0
    while len(w.spans) + 8 <= n:
        agent = f"agent_{k % 6}"
        inv = w.span(root, f"invoke_agent {agent}", t, t + 90, INVOKE)
        wrap = w.span(inv, "call_llm", t + 1, t + 30, [attr("gen_ai.request.model", "m")])
        w.span(wrap, "chat m", t + 2, t + 29, MODEL)
        tool = w.span(inv, "execute_tool search", t + 31, t + 60, TOOL)
        if k % 4 == 0:
            sub = w.span(inv, "invoke_agent helper", t + 32, t + 59, INVOKE)
            w.span(sub, "chat m", t + 33, t + 58, MODEL)
        else:
            w.span(tool, "http", t + 32, t + 59, [])
            w.span(tool, "db", t + 33, t + 58, [])
        w.span(inv, "chat m", t + 61, t + 89, MODEL)
        w.span(inv, "post", t + 89, t + 90, [])
        t += 100
        k += 1
    return w.spans


def chains(n):
    w = Writer()
    root = w.span(
        None, "invoke_workflow main", 0, 100 * n, [attr("gen_ai.operation.name", "invoke_workflow")]
    )
    t = 1
    k = 0
    while len(w.spans) + 16 <= n:
        inv = w.span(root, f"invoke_agent agent_{k % 6}", t, t + 90, INVOKE)
        parent = inv
        for d in range(14):
            parent = w.span(
                parent,
                f"step {d}",
                t + 1 + d,
                t + 89 - d,
                [attr("openinference.span.kind", "CHAIN")],
            )
        w.span(parent, "chat m", t + 20, t + 70, MODEL)
        t += 100
        k += 1
    return w.spans


def flat(n):
    w = Writer()
    for k in range(n):
        w.span(None, "chat m", k, k + 1, MODEL + [attr("gen_ai.agent.name", f"agent_{k % 6}")])
    return w.spans


SHAPES = {"invocations": invocations, "chains": chains, "flat": flat}


def run(binary, path):
    out = path + ".episodes.jsonl"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([binary, "import", path, "-o", out], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    episodes = errors = messages = 0
    if os.path.exists(out):
        with open(out) as f:
            for line in f:
                rec = json.loads(line)
                episodes += 1
                messages += len(rec.get("messages") or [])
        os.remove(out)
    errors = proc.stderr.count("too_large")
    return proc.returncode, episodes, errors, messages, seconds, max(rss, before), proc.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES))
    ap.add_argument("--bin", default="target/release/creditflow")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as d:
        for n in args.spans:
            for shape in args.shapes:
                spans = SHAPES[shape](n)
                rng.shuffle(spans)
                path = os.path.join(d, f"{shape}-{n}.json")
                doc = {
                    "resourceSpans": [
                        {"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}
                    ]
                }
                with open(path, "w") as f:
                    json.dump(doc, f)
                size = os.path.getsize(path)
                del spans, doc
                rc, eps, errs, msgs, secs, rss, stderr = run(args.bin, path)
                print(
                    f"{shape:12} spans {n:>9,}  file {size / 2**20:7.1f} MiB  exit {rc}  "
                    f"episodes {eps}  too_large {errs}  messages {msgs:>7,}  "
                    f"{secs:7.2f} s  peak RSS {rss / 1024:7.0f} MiB",
                    flush=True,
                )
                if rc != 0 and errs == 0:
                    print(stderr, file=sys.stderr)
                os.remove(path)


if __name__ == "__main__":
    main()
