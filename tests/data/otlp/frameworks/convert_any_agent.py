#!/usr/bin/env python3
"""Convert an any-agent AgentTrace JSON file (mozilla-ai/any-agent tests/assets/*_trace.json)
into one OTLP/JSON ExportTraceServiceRequest document.

The AgentTrace format is a JSON dump of OpenTelemetry ReadableSpan data:
  {"spans": [{"name", "kind": "internal", "parent": {"trace_id": <int>, "span_id": <int>|null, ...}|null,
              "start_time": <ns int>, "end_time": <ns int>,
              "status": {"status_code": "ok"|"error"|"unset", "description": ...},
              "context": {"trace_id": <int>, "span_id": <int>, ...},
              "attributes": {...}, "links": [...], "events": [...],
              "resource": {"attributes": {...}, "schema_url": ""}}],
   "final_output": ...}

Only the container changes:
  * trace/span ids: decimal ints -> lower-case hex (32 / 16 digits, zero padded)
  * parent: parent.span_id (when not null) -> parentSpanId
  * start_time/end_time (ns ints) -> startTimeUnixNano/endTimeUnixNano decimal strings
  * kind "internal"/"server"/"client"/"producer"/"consumer" -> 1/2/3/4/5
  * status "ok" -> {"code": 1}, "error" -> {"code": 2, "message": description}, "unset" -> {}
  * attributes -> OTLP AnyValue list (str->stringValue, bool->boolValue, int->intValue (string),
    float->doubleValue, list->arrayValue, dict->kvlistValue)
  * spans are grouped by identical resource into resourceSpans; the instrumentation scope is NOT
    recorded in AgentTrace, so the scope is written as an empty object {}.
  * "final_output" (not span data) is dropped.
Span order, names, ids, timestamps, parents, attributes and events are kept exactly.

usage: convert_any_agent.py IN.json OUT.json
"""
import json
import sys

KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def any_value(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": any_value(x)} for k, x in v.items()]}}
    if v is None:
        return {}
    raise TypeError(f"unsupported attribute value {v!r}")


def attrs(d):
    return [{"key": k, "value": any_value(v)} for k, v in (d or {}).items()]


def status(s):
    code = (s or {}).get("status_code", "unset")
    if code == "ok":
        return {"code": 1}
    if code == "error":
        out = {"code": 2}
        if s.get("description"):
            out["message"] = s["description"]
        return out
    return {}


def convert_span(s):
    ctx = s["context"]
    out = {
        "traceId": "%032x" % ctx["trace_id"],
        "spanId": "%016x" % ctx["span_id"],
    }
    p = s.get("parent")
    if p and p.get("span_id") is not None:
        out["parentSpanId"] = "%016x" % p["span_id"]
    out["name"] = s["name"]
    out["kind"] = KIND[s.get("kind", "internal").lower()]
    out["startTimeUnixNano"] = str(s["start_time"])
    out["endTimeUnixNano"] = str(s["end_time"])
    out["attributes"] = attrs(s.get("attributes"))
    ev = []
    for e in s.get("events") or []:
        ev.append({"timeUnixNano": str(e["timestamp"]), "name": e["name"], "attributes": attrs(e.get("attributes"))})
    if ev:
        out["events"] = ev
    ln = []
    for l in s.get("links") or []:
        c = l["context"]
        ln.append({"traceId": "%032x" % c["trace_id"], "spanId": "%016x" % c["span_id"],
                   "attributes": attrs(l.get("attributes"))})
    if ln:
        out["links"] = ln
    out["status"] = status(s.get("status"))
    return out


def convert(doc):
    groups = []  # [(resource_key, resource, [spans])]
    for s in doc["spans"]:
        res = s.get("resource") or {"attributes": {}}
        key = json.dumps(res, sort_keys=True)
        for g in groups:
            if g[0] == key:
                g[2].append(convert_span(s))
                break
        else:
            groups.append((key, res, [convert_span(s)]))
    rs = []
    for _, res, spans in groups:
        entry = {"resource": {"attributes": attrs(res.get("attributes"))},
                 "scopeSpans": [{"scope": {}, "spans": spans}]}
        if res.get("schema_url"):
            entry["schemaUrl"] = res["schema_url"]
        rs.append(entry)
    return {"resourceSpans": rs}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        doc = json.load(f)
    with open(dst, "w") as f:
        json.dump(convert(doc), f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
