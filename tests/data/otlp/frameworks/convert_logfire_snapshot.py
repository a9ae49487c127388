#!/usr/bin/env python3
"""Convert the inline span snapshot of one pytest test (logfire / pydantic-ai test files,
`exporter.exported_spans_as_dict(...) == snapshot([...])`) into one OTLP/JSON document.

The snapshot is the list of dicts produced by logfire's TestExporter.exported_spans_as_dict:
  {"name", "context": {"trace_id": int, "span_id": int, "is_remote"}, "parent": {...}|None,
   "start_time": ns int, "end_time": ns int, "attributes": {...}}
In those tests ids and timestamps are the deterministic values of logfire's test id generator and
test clock (trace 1, spans 1,3,5..., times 1e9, 2e9, ...); they are kept as they are, written as hex /
decimal strings. With parse_json_attributes=True the snapshot shows JSON-string attributes parsed;
they are serialised back to JSON strings with json.dumps (key order kept, separators (',', ':')), so
the string bytes may differ from what logfire sent on the wire, the content does not.
dirty_equals placeholders (IsStr(), IsInt(), ...) cannot be recovered; they are written as the string
"<IsStr()>" etc. The snapshot has no kind, status, resource or scope: spans are written with
kind 1 (INTERNAL), status {} (unset), resource attributes [] and scope {}; "flags" carries the sampled
bit and the snapshot's parent.is_remote (0x101, or 0x301 for a remote parent).

usage: convert_logfire_snapshot.py TEST_FILE.py TEST_FUNCTION OUT.json
"""
import ast
import json
import sys


class Placeholders(ast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id[:2] == "Is":
            return ast.copy_location(ast.Constant(value=f"<{ast.unparse(node)}>"), node)
        return node


def find_snapshot(tree, func_name):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func_name:
            for sub in ast.walk(node):
                if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "snapshot"
                        and sub.args and isinstance(sub.args[0], ast.List)
                        and sub.args[0].elts and isinstance(sub.args[0].elts[0], ast.Dict)):
                    keys = [k.value for k in sub.args[0].elts[0].keys if isinstance(k, ast.Constant)]
                    if "context" in keys and "attributes" in keys:
                        return sub.args[0]
    raise SystemExit(f"no span snapshot in {func_name}")


def any_value(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if v is None:
        return {}
    # logfire's prepare_otlp_attribute sends every non-scalar (dict, list) as a JSON string
    return {"stringValue": json.dumps(v, ensure_ascii=False, separators=(",", ":"))}


def main():
    path, func, out = sys.argv[1:4]
    tree = ast.parse(open(path).read())
    node = Placeholders().visit(find_snapshot(tree, func))
    spans = eval(compile(ast.Expression(node), path, "eval"))
    otlp_spans = []
    for s in spans:
        ctx = s["context"]
        o = {"traceId": "%032x" % ctx["trace_id"], "spanId": "%016x" % ctx["span_id"]}
        # W3C/OTLP span flags: 0x1 sampled (TestExporter only sees sampled spans),
        # 0x100 parent-is-remote known, 0x200 parent is remote (from the snapshot's parent.is_remote)
        flags = 0x101
        if s.get("parent"):
            o["parentSpanId"] = "%016x" % s["parent"]["span_id"]
            if s["parent"].get("is_remote"):
                flags |= 0x200
        o["flags"] = flags
        o["name"] = s["name"]
        o["kind"] = 1
        o["startTimeUnixNano"] = str(s["start_time"])
        o["endTimeUnixNano"] = str(s["end_time"])
        o["attributes"] = [{"key": k, "value": any_value(v)} for k, v in s["attributes"].items()]
        o["status"] = {}
        otlp_spans.append(o)
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": otlp_spans}]}]}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
