//! One OTLP/JSON document read as it streams: `resourceSpans` → `scopeSpans` →
//! `spans` are visited element by element, and each span is reduced to its compact
//! [`Span`](super::wire::Span) as soon as it is parsed, so a document of 10^6 spans never
//! exists as a JSON tree (which costs about ten times its text). Only one span's
//! attributes (and one resource or one `resourceLogs` entry) are held as JSON values at a
//! time. What the document holds, and every problem in it, is what [`read_document`]
//! gives for the same text read as a JSON tree.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::wire::{self, Document, Problem};

/// A document read from a stream; spans and evaluations are numbered from 1 within it and
/// their `at` is their path only (see [`Streamed::place`]).
#[derive(Debug, Default)]
pub struct Streamed(pub Document);

impl Streamed {
    /// Places the document: `at` (`file, line N`) prefixes every record's location, and
    /// arrival numbers continue from `seq`, which is advanced past them.
    pub fn place(self, at: &str, seq: &mut u64) -> Document {
        let mut d = self.0;
        let base = *seq;
        let mut last = base;
        for s in &mut d.spans {
            s.seq += base;
            last = last.max(s.seq);
            s.at.insert_str(0, at);
        }
        for e in &mut d.evals {
            e.seq += base;
            last = last.max(e.seq);
            e.at.insert_str(0, at);
        }
        *seq = last;
        d
    }
}

/// Reads one OTLP/JSON document held as a parsed value: the stream's reader over it;
/// `seq` numbers spans and evaluations in arrival order and is advanced; `at` is where
/// the document is (`file, line`).
pub fn read_document(doc: &Value, at: &str, seq: &mut u64) -> Document {
    match Streamed::deserialize(doc) {
        Ok(d) => d.place(at, seq),
        // A parsed value always deserializes; kept total all the same.
        Err(e) => Document {
            problems: vec![Problem {
                trace: None,
                span: None,
                field: String::new(),
                message: e.to_string(),
            }],
            ..Default::default()
        },
    }
}

/// The document being read and its arrival counter.
#[derive(Default)]
struct State {
    out: Document,
    seq: u64,
}

impl State {
    fn problem(&mut self, field: &str, message: &str) {
        self.out.problems.push(Problem {
            trace: None,
            span: None,
            field: field.to_string(),
            message: message.to_string(),
        });
    }
}

impl<'de> Deserialize<'de> for Streamed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut st = State::default();
        d.deserialize_any(Expect {
            st: &mut st,
            path: String::new(),
            what: What::Document,
        })?;
        Ok(Streamed(st.out))
    }
}

/// What is expected at a position of the document.
#[derive(Clone, Copy)]
enum What {
    /// The top-level object.
    Document,
    /// An array whose elements are `What`.
    ArrayOf(Item),
    /// One element of such an array.
    Item(Item),
}

#[derive(Clone, Copy)]
enum Item {
    ResourceSpans,
    ScopeSpans,
    Span,
    ResourceLogs,
}

/// A visitor (and seed) that reads the expected shape, and records anything else as a
/// problem at its path without failing the document.
struct Expect<'a> {
    st: &'a mut State,
    path: String,
    what: What,
}

impl Expect<'_> {
    fn wrong(self) {
        let message = match self.what {
            What::Document => "a document must be a JSON object",
            What::ArrayOf(_) => "must be an array",
            What::Item(_) => "must be an object",
        };
        self.st.problem(&self.path, message);
    }
}

impl<'de> DeserializeSeed<'de> for Expect<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.what {
            // One span, or one `resourceLogs` entry: small, read whole.
            What::Item(Item::Span) | What::Item(Item::ResourceLogs) => {
                let v = Value::deserialize(d)?;
                match v {
                    Value::Object(o) => {
                        let item = match self.what {
                            What::Item(i) => i,
                            _ => unreachable!(),
                        };
                        one(self.st, &self.path, item, &o);
                    }
                    _ => self.wrong(),
                }
                Ok(())
            }
            _ => d.deserialize_any(self),
        }
    }
}

/// Reads one small element as a JSON object.
fn one(st: &mut State, path: &str, item: Item, obj: &Map<String, Value>) {
    match item {
        Item::Span => wire::read_span(obj, path, None, "", &mut st.seq, &mut st.out),
        Item::ResourceLogs => wire::read_resource_logs(obj, path, "", &mut st.seq, &mut st.out),
        _ => unreachable!("read as a stream"),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'de> Visitor<'de> for Expect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an OTLP/JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let item = match self.what {
            What::ArrayOf(_) => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                self.wrong();
                return Ok(());
            }
            What::Document => None,
            What::Item(i) => Some(i),
        };
        let st = self.st;
        let path = self.path;
        let first_span = st.out.spans.len();
        let mut seen = false;
        let mut resource: Option<Value> = None;
        while let Some(key) = map.next_key::<String>()? {
            let child = |item: Item| What::ArrayOf(item);
            let next = match (item, key.as_str()) {
                (None, "resourceSpans") => Some(child(Item::ResourceSpans)),
                (None, "resourceLogs") => Some(child(Item::ResourceLogs)),
                (Some(Item::ResourceSpans), "scopeSpans" | "instrumentationLibrarySpans") => {
                    Some(child(Item::ScopeSpans))
                }
                (Some(Item::ScopeSpans), "spans") => Some(child(Item::Span)),
                (Some(Item::ResourceSpans), "resource") => {
                    resource = Some(map.next_value::<Value>()?);
                    continue;
                }
                _ => None,
            };
            match next {
                Some(what) => {
                    seen = true;
                    map.next_value_seed(Expect {
                        st: &mut *st,
                        path: join(&path, &key),
                        what,
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match item {
            None if !seen => st.problem(
                "",
                "neither `resourceSpans` nor `resourceLogs`: not an OTLP/JSON document",
            ),
            // The resource may come after its spans: its service name is set on them
            // once the entry is complete.
            Some(Item::ResourceSpans) => {
                if let Some(service) = resource.as_ref().and_then(wire::resource_service) {
                    for s in &mut st.out.spans[first_span..] {
                        s.service = Some(service.clone());
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let What::ArrayOf(item) = self.what else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            self.wrong();
            return Ok(());
        };
        let mut i = 0usize;
        loop {
            let seed = Expect {
                st: &mut *self.st,
                path: format!("{}[{i}]", self.path),
                what: What::Item(item),
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        // null: an absent array; elsewhere the wrong kind.
        if !matches!(self.what, What::ArrayOf(_)) {
            self.wrong();
        }
        Ok(())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.wrong();
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.wrong();
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.wrong();
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.wrong();
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.wrong();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn streamed(text: &str) -> Document {
        let mut seq = 10;
        let d = serde_json::from_str::<Streamed>(text)
            .unwrap()
            .place("f.json, line 1", &mut seq);
        assert_eq!(seq, 10 + (d.spans.len() + d.evals.len()) as u64);
        d
    }

    /// The stream reads what the parsed value gives, problems and all; the resource
    /// may follow its spans.
    #[test]
    fn streaming_reads_what_the_tree_reads() {
        let text = r#"{"resourceSpans": [
            {"scopeSpans": [{"spans": [
                {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
                 "name": "chat", "startTimeUnixNano": "1", "endTimeUnixNano": "5"},
                 7,
                {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00f067aa0ba902b7",
                 "startTimeUnixNano": "soon"}]},
                {"spans": {"not": "an array"}}],
             "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}},
            "not an object"],
          "resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"eventName": "gen_ai.evaluation.result", "traceId": "0af7651916cd43dd8448eb211c80319c",
             "attributes": [{"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": 0.5}}]}]}]}],
          "ignored": {"deep": [1, 2, {"x": null}]}}"#;
        let d = streamed(text);
        let tree = {
            let v: Value = serde_json::from_str(text).unwrap();
            let mut seq = 10;
            read_document(&v, "f.json, line 1", &mut seq)
        };
        // Arrival numbers follow key order, which a parsed value sorts.
        let unnumbered = |d: &Document| {
            let mut d = Document {
                spans: d.spans.clone(),
                evals: d.evals.clone(),
                problems: Vec::new(),
            };
            d.spans.iter_mut().for_each(|s| s.seq = 0);
            d.evals.iter_mut().for_each(|e| e.seq = 0);
            d
        };
        assert_eq!(unnumbered(&d).spans, unnumbered(&tree).spans);
        assert_eq!(unnumbered(&d).evals, unnumbered(&tree).evals);
        let fields = |d: &Document| {
            let mut f: Vec<String> = d.problems.iter().map(|p| p.field.clone()).collect();
            f.sort();
            f
        };
        assert_eq!(fields(&d), fields(&tree));
        assert_eq!(
            fields(&d),
            [
                "resourceSpans[0].scopeSpans[0].spans[1]",
                "resourceSpans[0].scopeSpans[0].spans[2].startTimeUnixNano",
                "resourceSpans[0].scopeSpans[1].spans",
                "resourceSpans[1]",
            ]
        );
        assert_eq!(d.spans.len(), 1);
        assert_eq!(d.spans[0].service.as_deref(), Some("svc"));
        assert_eq!(d.spans[0].seq, 11);
        assert!(
            d.spans[0]
                .at
                .starts_with("f.json, line 1, resourceSpans[0]")
        );
        assert_eq!(d.evals[0].value, Some(0.5));
        assert_eq!(d.evals[0].seq, 12);
    }

    #[test]
    fn what_is_not_a_document_is_a_problem_not_an_error() {
        for (text, message) in [
            ("[1, 2]", "a document must be a JSON object"),
            ("\"x\"", "a document must be a JSON object"),
            ("{\"a\": 1}", "neither `resourceSpans` nor `resourceLogs`"),
            ("{\"resourceSpans\": 3}", "must be an array"),
        ] {
            let d = streamed(text);
            assert!(d.spans.is_empty());
            assert!(
                d.problems.iter().any(|p| p.message.starts_with(message)),
                "{text}: {:?}",
                d.problems
            );
        }
        // Broken JSON is an error of the stream (with its line), as before.
        assert!(serde_json::from_str::<Streamed>("{\"resourceSpans\": [").is_err());
    }

    #[test]
    fn a_broken_span_is_a_problem_naming_trace_span_and_field_and_the_rest_is_read() {
        let doc = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
             "name": "ok", "startTimeUnixNano": "1", "endTimeUnixNano": 2},
            {"traceId": "0AF7651916CD43DD8448EB211C80319C", "spanId": "00f067aa0ba902b7",
             "name": "bad", "startTimeUnixNano": "later"},
            {"traceId": "nope", "spanId": "00f067aa0ba902b8", "startTimeUnixNano": "1"}
        ]}]}]});
        let mut seq = 0;
        let d = read_document(&doc, "t.json, line 1", &mut seq);
        assert_eq!(d.spans.len(), 1);
        assert_eq!(d.spans[0].name, "ok");
        assert_eq!(d.problems.len(), 2);
        let p = &d.problems[0];
        assert_eq!(p.trace.as_deref(), Some("0af7651916cd43dd8448eb211c80319c"));
        assert_eq!(p.span.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(
            p.field,
            "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano"
        );
        assert_eq!(d.problems[1].trace, None);
        assert!(d.problems[1].field.ends_with("spans[2].traceId"));
    }

    #[test]
    fn evaluations_from_span_events_and_log_records() {
        let doc = json!({
            "resourceSpans": [{"scopeSpans": [{"spans": [
                {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
                 "startTimeUnixNano": "1",
                 "events": [{"name": "gen_ai.evaluation.result", "attributes": [
                    {"key": "gen_ai.evaluation.name", "value": {"stringValue": "Helpful"}},
                    {"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": 0.25}}]},
                   {"name": "exception"}]}]}]}],
            "resourceLogs": [{"scopeLogs": [{"logRecords": [
                {"attributes": [{"key": "event.name", "value": {"stringValue": "gen_ai.evaluation.result"}},
                                {"key": "gen_ai.evaluation.name", "value": {"stringValue": "Outcome"}},
                                {"key": "gen_ai.evaluation.score.label", "value": {"stringValue": "pass"}}],
                 "traceId": "0af7651916cd43dd8448eb211c80319c"},
                {"eventName": "gen_ai.user.message", "traceId": "0af7651916cd43dd8448eb211c80319c"}]}]}]});
        let mut seq = 0;
        let d = read_document(&doc, "x", &mut seq);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.evals.len(), 2);
        // Arrival order is the document's key order (a parsed value's keys are sorted).
        let by = |n: &str| {
            d.evals
                .iter()
                .find(|e| e.name.as_deref() == Some(n))
                .unwrap()
        };
        assert_eq!(by("Helpful").value, Some(0.25));
        assert_eq!(by("Helpful").span.as_deref(), Some("b7ad6b7169203331"));
        assert_eq!(by("Outcome").span, None);
        assert_eq!(by("Outcome").label.as_deref(), Some("pass"));
    }
}
