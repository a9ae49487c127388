//! Reading one JSONL line into the input schema ([`crate::schema`]).
//!
//! Parsing goes through `serde_path_to_error` so that a type error names the field
//! (`messages[3].score`), and through a small scanner that recovers the record id from
//! a line that is not valid JSON. Unknown fields are ignored.

use crate::error::{ErrorKind, RecordError};
use crate::model::Record;
use crate::options::ValidateOptions;
use crate::schema::InputRecord;
use crate::validate::validate;
use serde::Deserialize;

/// Parses and validates one JSON Lines record (`line`: its 1-based line number).
pub fn parse_and_validate(
    text: &str,
    line: u64,
    opts: &ValidateOptions,
) -> Result<Record, RecordError> {
    validate(parse_line(text, line)?, line, opts)
}

/// Parses one line into a raw record; a parse failure names the field and, where the
/// line still shows one, the record id.
pub fn parse_line(text: &str, line: u64) -> Result<InputRecord, RecordError> {
    if !text.trim_start().starts_with('{') {
        // serde would read a JSON array positionally into the record's fields.
        return Err(RecordError::new(
            scan_id(text),
            line,
            "(record)",
            ErrorKind::MalformedJson,
            "a record must be a JSON object `{...}`",
        ));
    }
    // The fast path: a plain parse. Only a line that fails is parsed again with the
    // field path tracked, so the error names the field (the same error, the same path).
    let mut de = serde_json::Deserializer::from_str(text);
    if let Ok(r) = InputRecord::deserialize(&mut de)
        && de.end().is_ok()
    {
        return Ok(r);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed: Result<InputRecord, _> = serde_path_to_error::deserialize(&mut de);
    let result = parsed
        .map_err(|e| (e.path().to_string(), e.into_inner()))
        .and_then(|r| de.end().map(|()| r).map_err(|e| (String::new(), e)));
    result.map_err(|(path, inner)| {
        let id = scan_id(text);
        let non_finite = is_non_finite_token(text, inner.column());
        let (kind, msg) = if non_finite {
            (
                ErrorKind::NonFinite,
                format!(
                    "NaN or infinite number at column {} (JSON numbers must be finite)",
                    inner.column()
                ),
            )
        } else {
            (ErrorKind::MalformedJson, inner.to_string())
        };
        // serde_path_to_error writes `?` for a position it could not name (a syntax error
        // between fields); keep the part of the path that is known.
        let known = path.trim_end_matches('?').trim_end_matches('.');
        let field = if known.is_empty() {
            "(record)".to_string()
        } else {
            known.to_string()
        };
        RecordError::new(id, line, field, kind, msg)
    })
}

/// True when the parse error at `column` (1-based) sits on `NaN`, `Infinity`,
/// `-Infinity` or a number too large for an f64 — the ways non-finite numbers reach
/// JSON text (Python's `json.dumps` writes bare `NaN`).
fn is_non_finite_token(text: &str, column: usize) -> bool {
    let bytes = text.as_bytes();
    if column == 0 {
        return false;
    }
    // serde_json reports the column of the last byte it read; back up to the token start.
    let mut i = (column - 1).min(bytes.len().saturating_sub(1));
    while i > 0
        && matches!(bytes[i - 1], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-' | b'a'..=b'z' | b'A'..=b'Z')
    {
        i -= 1;
    }
    // Bytes, not chars: `i` need not sit on a char boundary of a line cut mid-character.
    let token: String = bytes[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
        .map(|&c| c as char)
        .collect();
    let t = token.trim_start_matches('-');
    if t == "NaN" || t == "Infinity" {
        return true;
    }
    t.chars().next().is_some_and(|c| c.is_ascii_digit())
        && t.parse::<f64>().is_ok_and(|v| !v.is_finite())
}

/// Recovers the top-level `"id"` of a line that failed to parse, if it is visible: the
/// scanner tracks nesting and strings, so a message's `"id"` is never taken for the
/// record's.
pub fn scan_id(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i + 1;
                let mut k = start;
                while k < b.len() && b[k] != b'"' {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && text.get(start..k) == Some("id") {
                    let rest = text
                        .get(k + 1..)?
                        .trim_start()
                        .strip_prefix(':')?
                        .trim_start();
                    return if rest.starts_with('"') {
                        // The string token, escapes included, unescaped by the JSON parser.
                        let r = rest.as_bytes();
                        let mut end = 1;
                        while end < r.len() && r[end] != b'"' {
                            end += if r[end] == b'\\' { 2 } else { 1 };
                        }
                        let token = rest.get(..(end + 1).min(rest.len()))?;
                        serde_json::from_str::<String>(token).ok()
                    } else {
                        // A number: the whole token, which must be an integer (as ids
                        // are read) and end where the line says it ends — `12.5` and a
                        // line cut after `12` give no id, never a wrong one.
                        let token: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || "-+.eE".contains(*c))
                            .collect();
                        let after = rest[token.len()..].chars().next();
                        let integer = token.strip_prefix('-').unwrap_or(&token);
                        let ends = after.is_some_and(|c| c == ',' || c == '}' || c.is_whitespace());
                        (!integer.is_empty() && integer.bytes().all(|c| c.is_ascii_digit()) && ends)
                            .then_some(token)
                    };
                }
                i = k;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovered_id_is_the_lines_id_exactly_or_nothing() {
        assert_eq!(
            scan_id(r#"{"id": 12, "messages": ["#).as_deref(),
            Some("12")
        );
        assert_eq!(scan_id(r#"{"id": -7}"#).as_deref(), Some("-7"));
        assert_eq!(scan_id(r#"{"id": 12.5, "messages": ["#), None);
        assert_eq!(scan_id(r#"{"id": 1e3, "x": ["#), None);
        assert_eq!(
            scan_id(r#"{"id": 12"#),
            None,
            "a line cut inside the number"
        );
        assert_eq!(scan_id(r#"{"id": "a\"b", "m": "#).as_deref(), Some("a\"b"));
        assert_eq!(scan_id(r#"{"messages": [{"id": "m0"}], "x"#), None);
    }

    #[test]
    fn type_error_names_the_field() {
        let e = parse_line(r#"{"id":"a","messages":[{"id":"m0","score":"high"}]}"#, 7).unwrap_err();
        assert_eq!(e.line, 7);
        assert_eq!(e.id.as_deref(), Some("a"));
        assert_eq!(e.field, "messages[0].score");
        assert_eq!(e.kind, ErrorKind::MalformedJson);
    }

    #[test]
    fn nan_is_non_finite() {
        let e = parse_line(r#"{"id":"a","messages":[{"id":"m0","score":NaN}]}"#, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NonFinite, "{e}");
        let e = parse_line(r#"{"id":"a","messages":[{"id":"m0","score":1e999}]}"#, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NonFinite, "{e}");
        assert_eq!(e.field, "messages[0].score");
    }

    #[test]
    fn recovered_ids_are_unescaped() {
        assert_eq!(
            scan_id(r#"{"id": "a\"b", "messages": [}"#).as_deref(),
            Some("a\"b")
        );
        assert_eq!(
            scan_id(r#"{"id": "\u00e9t\u00e9", oops"#).as_deref(),
            Some("été")
        );
        // A token cut off before its closing quote is not an id.
        assert_eq!(scan_id(r#"{"id": "abc"#), None);
    }

    #[test]
    fn lines_cut_inside_a_character_never_panic() {
        // A writer that crashed mid-line: the last bytes are half of a multi-byte char.
        let full = r#"{"id":"é","messages":[{"id":"m0","score":1e999,"text":"日本語"}]}"#;
        for cut in 0..full.len() {
            let Some(text) = full.get(..cut).or_else(|| {
                let bytes = &full.as_bytes()[..cut];
                std::str::from_utf8(&bytes[..bytes.len() - 1]).ok()
            }) else {
                continue;
            };
            let _ = parse_line(text, 1);
            let _ = scan_id(text);
        }
        let e = parse_line(r#"{"id":"é","messages":[{"score":NaN"#, 3).unwrap_err();
        assert_eq!(e.id.as_deref(), Some("é"));
    }

    #[test]
    fn numeric_ids_become_text() {
        let r = parse_line(r#"{"id":17,"messages":[{"id":3}]}"#, 1).unwrap();
        assert_eq!(r.id.unwrap().0, "17");
        assert_eq!(r.messages.unwrap()[0].id.as_ref().unwrap().0, "3");
    }
}
