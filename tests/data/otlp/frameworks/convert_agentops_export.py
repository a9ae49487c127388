#!/usr/bin/env python3
"""Convert an AgentOps trace export (the JSON the AgentOps API/dashboard returns for one trace:
{"trace": {...}, "spans": [{"span_id", "parent_span_id", "span_name", "span_kind", "start_time" (ISO),
"duration" (ns), "status_code", "resource_attributes": {nested}, "span_attributes": {nested}, ...}]})
into one OTLP/JSON ExportTraceServiceRequest.

The AgentOps backend stores the OTel attributes of each span as a nested JSON object (dotted keys
split into objects; indexed keys such as gen_ai.prompt.0.content turned into lists). This script
flattens them back:
  {"a": {"b": "x"}}            -> a.b = "x"
  {"a": [{"c": "y"}, ...]}     -> a.0.c = "y", ...
  {"a": ["s1", "s2"]}          -> a.0 = "s1", a.1 = "s2"
Values are kept with the type they have in the export (the export gives most numbers as strings).
Other conversions:
  * trace id: trace.trace_id; span ids as given (already 16 hex digits)
  * startTimeUnixNano = ISO start_time (microsecond precision) in ns; endTimeUnixNano = start + duration
  * span_kind Internal/Server/Client/Producer/Consumer -> 1..5
  * status_code OK -> {"code": 1}, ERROR -> {"code": 2, "message": status_message}, else {}
  * event_* arrays -> events (all empty in the IBM recording)
  * dropped: backend-computed fields that are not span data (freeplan_truncated, span_type,
    service_name, metrics, the "trace" summary object)
  * the instrumentation scope is not in the export: written as {}
usage: convert_agentops_export.py IN.json OUT.json
"""
import json
import sys
from datetime import datetime, timezone

KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def flatten(obj, prefix, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(obj, list) and any(isinstance(x, (dict, list)) for x in obj):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}", out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out[f"{prefix}.{i}"] = v
    else:
        out[prefix] = obj
    return out


def any_value(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if v is None:
        return {}
    return {"stringValue": str(v)}


def attrs(nested):
    return [{"key": k, "value": any_value(v)} for k, v in flatten(nested or {}, "", {}).items()]


def iso_ns(s):
    # "2025-08-04T15:12:27.400849+00:00" -> integer ns, exact to the microsecond
    dt = datetime.fromisoformat(s)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    delta = dt - epoch
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def convert(doc):
    trace_id = doc["trace"]["trace_id"].lower()
    groups = []
    for s in doc["spans"]:
        start = iso_ns(s["start_time"])
        span = {"traceId": trace_id, "spanId": s["span_id"]}
        if s.get("parent_span_id"):
            span["parentSpanId"] = s["parent_span_id"]
        span["name"] = s["span_name"]
        span["kind"] = KIND.get(str(s.get("span_kind", "")).lower(), 0)
        span["startTimeUnixNano"] = str(start)
        span["endTimeUnixNano"] = str(start + int(s["duration"]))
        span["attributes"] = attrs(s.get("span_attributes"))
        events = []
        for t, n, a in zip(s.get("event_timestamps") or [], s.get("event_names") or [], s.get("event_attributes") or []):
            events.append({"timeUnixNano": str(iso_ns(t)), "name": n, "attributes": attrs(a)})
        if events:
            span["events"] = events
        code = str(s.get("status_code", "")).upper()
        if code == "OK":
            span["status"] = {"code": 1}
        elif code == "ERROR":
            span["status"] = {"code": 2, "message": s.get("status_message") or ""}
        else:
            span["status"] = {}
        key = json.dumps(s.get("resource_attributes"), sort_keys=True)
        for g in groups:
            if g[0] == key:
                g[2].append(span)
                break
        else:
            groups.append((key, s.get("resource_attributes"), [span]))
    return {"resourceSpans": [{"resource": {"attributes": attrs(res)},
                               "scopeSpans": [{"scope": {}, "spans": spans}]} for _, res, spans in groups]}


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    with open(sys.argv[2], "w") as f:
        json.dump(convert(doc), f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
