//! Columnar input (DESIGN §2.4): Arrow record batches, one row per message, an
//! episode's rows contiguous and in message order. [`ArrowSource`] groups the rows of
//! each episode into the same [`InputRecord`] a JSONL line parses into, so validation,
//! scoring and output are those of the JSON Lines path; only the places differ (a row
//! number and a column name instead of a line number and a field path).
//!
//! Column types are checked once per batch: a column of a type the schema does not
//! allow fails the run ([`Error::Columnar`]) naming the column, since every row would be
//! bad. A row that breaks the schema (no `episode_id`; an episode-level column that
//! differs between an episode's rows) makes its episode an error record, like a bad
//! JSONL line. Unknown columns are ignored (a trainer's `group_id`, a step counter…);
//! an absent optional column reads as all-null.

use std::borrow::Cow;
use std::collections::VecDeque;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, GenericListArray, OffsetSizeTrait, RecordBatch};
use arrow_schema::{ArrowError, DataType};
use rayon::prelude::*;

use crate::error::{Error, ErrorKind, RecordError};
use crate::options::RunOptions;
use crate::pipeline::{Source, Validated};
use crate::schema::{Alternative, Id, InputMessage, InputOutcome, InputRecord};
use crate::validate::validate;

/// A string-valued column (ids, names, text): Arrow strings of any offset width, or
/// integers (ids written as numbers, kept as their decimal text, as in JSONL).
#[derive(Clone, Copy)]
enum Text<'a> {
    Absent,
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    U64(&'a arrow_array::UInt64Array),
    U32(&'a arrow_array::UInt32Array),
}

impl<'a> Text<'a> {
    fn new(col: &'a dyn Array, name: &str, ids: bool) -> Result<Self, Error> {
        Ok(match col.data_type() {
            DataType::Null => Text::Absent,
            DataType::Utf8 => Text::Utf8(col.as_string::<i32>()),
            DataType::LargeUtf8 => Text::Large(col.as_string::<i64>()),
            DataType::Utf8View => Text::View(col.as_string_view()),
            DataType::Int64 if ids => Text::I64(col.as_primitive::<Int64Type>()),
            DataType::Int32 if ids => Text::I32(col.as_primitive::<Int32Type>()),
            DataType::UInt64 if ids => Text::U64(col.as_primitive::<UInt64Type>()),
            DataType::UInt32 if ids => Text::U32(col.as_primitive::<UInt32Type>()),
            t => {
                let want = if ids {
                    "a string or integer id"
                } else {
                    "a string"
                };
                return Err(wrong_type(name, want, t));
            }
        })
    }

    fn get(&self, row: usize) -> Option<Cow<'a, str>> {
        fn at<A: Array>(a: &A, row: usize) -> bool {
            a.is_valid(row)
        }
        match *self {
            Text::Absent => None,
            Text::Utf8(a) => at(a, row).then(|| Cow::Borrowed(a.value(row))),
            Text::Large(a) => at(a, row).then(|| Cow::Borrowed(a.value(row))),
            Text::View(a) => at(a, row).then(|| Cow::Borrowed(a.value(row))),
            Text::I64(a) => at(a, row).then(|| Cow::Owned(a.value(row).to_string())),
            Text::I32(a) => at(a, row).then(|| Cow::Owned(a.value(row).to_string())),
            Text::U64(a) => at(a, row).then(|| Cow::Owned(a.value(row).to_string())),
            Text::U32(a) => at(a, row).then(|| Cow::Owned(a.value(row).to_string())),
        }
    }
}

/// A number column: floats or integers, read as f64.
#[derive(Clone, Copy)]
enum Num<'a> {
    Absent,
    F64(&'a arrow_array::Float64Array),
    F32(&'a arrow_array::Float32Array),
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
}

impl<'a> Num<'a> {
    fn new(col: &'a dyn Array, name: &str) -> Result<Self, Error> {
        Ok(match col.data_type() {
            DataType::Null => Num::Absent,
            DataType::Float64 => Num::F64(col.as_primitive::<Float64Type>()),
            DataType::Float32 => Num::F32(col.as_primitive::<Float32Type>()),
            DataType::Int64 => Num::I64(col.as_primitive::<Int64Type>()),
            DataType::Int32 => Num::I32(col.as_primitive::<Int32Type>()),
            t => return Err(wrong_type(name, "a number", t)),
        })
    }

    fn get(&self, row: usize) -> Option<f64> {
        match *self {
            Num::Absent => None,
            Num::F64(a) => a.is_valid(row).then(|| a.value(row)),
            Num::F32(a) => a.is_valid(row).then(|| f64::from(a.value(row))),
            Num::I64(a) => a.is_valid(row).then(|| a.value(row) as f64),
            Num::I32(a) => a.is_valid(row).then(|| f64::from(a.value(row))),
        }
    }
}

/// A boolean column.
#[derive(Clone, Copy)]
struct Bool<'a>(Option<&'a BooleanArray>);

impl<'a> Bool<'a> {
    fn new(col: &'a dyn Array, name: &str) -> Result<Self, Error> {
        match col.data_type() {
            DataType::Null => Ok(Bool(None)),
            DataType::Boolean => Ok(Bool(Some(col.as_boolean()))),
            t => Err(wrong_type(name, "a boolean", t)),
        }
    }

    fn get(&self, row: usize) -> Option<bool> {
        self.0.and_then(|a| a.is_valid(row).then(|| a.value(row)))
    }
}

/// A list column: the row's range in the child array, whatever the offset width.
#[derive(Clone, Copy)]
enum List<'a> {
    Absent,
    Small(&'a GenericListArray<i32>),
    Large(&'a GenericListArray<i64>),
}

impl<'a> List<'a> {
    fn new(
        col: &'a dyn Array,
        name: &str,
        want: &str,
    ) -> Result<(Self, Option<&'a ArrayRef>), Error> {
        Ok(match col.data_type() {
            DataType::Null => (List::Absent, None),
            DataType::List(_) => {
                let l = col.as_list::<i32>();
                (List::Small(l), Some(l.values()))
            }
            DataType::LargeList(_) => {
                let l = col.as_list::<i64>();
                (List::Large(l), Some(l.values()))
            }
            t => return Err(wrong_type(name, want, t)),
        })
    }

    fn range(&self, row: usize) -> Option<std::ops::Range<usize>> {
        fn r<O: OffsetSizeTrait>(
            l: &GenericListArray<O>,
            row: usize,
        ) -> Option<std::ops::Range<usize>> {
            if l.is_null(row) {
                return None;
            }
            let o = l.value_offsets();
            Some(o[row].as_usize()..o[row + 1].as_usize())
        }
        match *self {
            List::Absent => None,
            List::Small(l) => r(l, row),
            List::Large(l) => r(l, row),
        }
    }
}

fn wrong_type(name: &str, want: &str, found: &DataType) -> Error {
    Error::Columnar(format!(
        "column `{name}`: expected {want} (DESIGN §2.4), found {found}"
    ))
}

/// The columns of one batch, their types checked.
struct Columns<'a> {
    episode_id: Text<'a>,
    message_id: Text<'a>,
    agent: Text<'a>,
    parents: List<'a>,
    parent_ids: Text<'a>,
    score: Num<'a>,
    group: Text<'a>,
    is_final: Bool<'a>,
    text: Text<'a>,
    reward: Num<'a>,
    baseline: Num<'a>,
    success: Bool<'a>,
    alternatives: List<'a>,
    alt_text: Text<'a>,
    alt_score: Num<'a>,
    coalition_values: List<'a>,
    coalition_items: Num<'a>,
    agents: List<'a>,
    agent_names: Text<'a>,
}

impl<'a> Columns<'a> {
    fn new(batch: &'a RecordBatch) -> Result<Self, Error> {
        let col = |name: &str| batch.column_by_name(name).map(|c| c.as_ref());
        let text = |name: &str, ids: bool| match col(name) {
            Some(c) => Text::new(c, name, ids),
            None => Ok(Text::Absent),
        };
        let num = |name: &str| match col(name) {
            Some(c) => Num::new(c, name),
            None => Ok(Num::Absent),
        };
        let boolean = |name: &str| match col(name) {
            Some(c) => Bool::new(c, name),
            None => Ok(Bool(None)),
        };
        let list = |name: &str, want: &str| match col(name) {
            Some(c) => List::new(c, name, want),
            None => Ok((List::Absent, None)),
        };
        let episode_id = match col("episode_id") {
            Some(c) => Text::new(c, "episode_id", true)?,
            None => {
                return Err(Error::Columnar(
                    "no `episode_id` column: every row names its episode (DESIGN §2.4)".into(),
                ));
            }
        };
        let (parents, parent_values) = list("parents", "a list of message ids")?;
        let parent_ids = match parent_values {
            Some(v) => Text::new(v.as_ref(), "parents", true)?,
            None => Text::Absent,
        };
        let (alternatives, alt_values) = list(
            "alternatives",
            "a list of struct<text: string, score: double>",
        )?;
        let (alt_text, alt_score) = match alt_values {
            None => (Text::Absent, Num::Absent),
            Some(v) => match v.data_type() {
                DataType::Struct(_) => {
                    let st = v.as_struct();
                    let t = match st.column_by_name("text") {
                        Some(c) => Text::new(c.as_ref(), "alternatives.text", false)?,
                        None => Text::Absent,
                    };
                    let s = match st.column_by_name("score") {
                        Some(c) => Num::new(c.as_ref(), "alternatives.score")?,
                        None => Num::Absent,
                    };
                    (t, s)
                }
                t => {
                    return Err(wrong_type(
                        "alternatives",
                        "a list of struct<text: string, score: double>",
                        t,
                    ));
                }
            },
        };
        let (coalition_values, cv_values) = list("coalition_values", "a list of numbers")?;
        let coalition_items = match cv_values {
            Some(v) => Num::new(v.as_ref(), "coalition_values")?,
            None => Num::Absent,
        };
        let (agents, agent_values) = list("agents", "a list of agent names")?;
        let agent_names = match agent_values {
            Some(v) => Text::new(v.as_ref(), "agents", false)?,
            None => Text::Absent,
        };
        Ok(Columns {
            agents,
            agent_names,
            episode_id,
            message_id: text("message_id", true)?,
            agent: text("agent", false)?,
            parents,
            parent_ids,
            score: num("score")?,
            group: text("group", true)?,
            is_final: boolean("final")?,
            text: text("text", false)?,
            reward: num("reward")?,
            baseline: num("baseline")?,
            success: boolean("success")?,
            alternatives,
            alt_text,
            alt_score,
            coalition_values,
            coalition_items,
        })
    }

    /// The row's outcome columns (`None` when all three are null).
    fn outcome(&self, row: usize) -> Option<InputOutcome> {
        let (reward, baseline, success) = (
            self.reward.get(row),
            self.baseline.get(row),
            self.success.get(row),
        );
        (reward.is_some() || baseline.is_some() || success.is_some()).then_some(InputOutcome {
            reward,
            baseline,
            success,
        })
    }

    fn coalition_values(&self, row: usize) -> Option<Vec<f64>> {
        let r = self.coalition_values.range(row)?;
        // A null entry reads as NaN, which validation reports as not finite.
        Some(
            r.map(|k| self.coalition_items.get(k).unwrap_or(f64::NAN))
                .collect(),
        )
    }

    fn agents(&self, row: usize) -> Option<Vec<String>> {
        let r = self.agents.range(row)?;
        Some(
            r.map(|k| {
                self.agent_names
                    .get(k)
                    .map(Cow::into_owned)
                    .unwrap_or_default()
            })
            .collect(),
        )
    }

    fn message(&self, row: usize) -> InputMessage {
        let parents = self.parents.range(row).map(|r| {
            r.map(|k| self.parent_ids.get(k).unwrap_or_default())
                .collect()
        });
        let alternatives = self.alternatives.range(row).map(|r| {
            r.map(|k| Alternative {
                text: self.alt_text.get(k).map_or(serde_json::Value::Null, |t| {
                    serde_json::Value::String(t.into_owned())
                }),
                score: self.alt_score.get(k),
            })
            .collect()
        });
        InputMessage {
            id: self.message_id.get(row).map(|s| Id(s.into_owned())),
            agent: self.agent.get(row).map(Cow::into_owned),
            parents,
            score: self.score.get(row),
            group: self.group.get(row).map(|s| Id(s.into_owned())),
            is_final: self.is_final.get(row).unwrap_or(false),
            text: self
                .text
                .get(row)
                .map(|t| serde_json::Value::String(t.into_owned())),
            alternatives,
            role: None,
            name: None,
        }
    }
}

/// An episode whose rows are still being read.
struct Pending {
    id: String,
    /// Its first row (1-based, over the whole input).
    first_row: u64,
    /// The record read so far (its episode-level columns from the first row).
    record: InputRecord,
    /// The first row of the episode that broke the schema.
    error: Option<RecordError>,
}

impl Pending {
    fn finish(self) -> (u64, Result<InputRecord, RecordError>) {
        match self.error {
            Some(e) => (self.first_row, Err(e)),
            None => (self.first_row, Ok(self.record)),
        }
    }
}

/// `batch` with its dictionary-encoded columns (pandas categoricals, Parquet dictionary
/// pages read back as dictionaries, many writers) decoded into plain columns of their
/// value type; the batch itself when it has none.
fn plain(batch: &RecordBatch) -> Result<Cow<'_, RecordBatch>, Error> {
    if !batch
        .columns()
        .iter()
        .any(|c| matches!(c.data_type(), DataType::Dictionary(..)))
    {
        return Ok(Cow::Borrowed(batch));
    }
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        match col.as_any_dictionary_opt() {
            Some(dict) => {
                let decoded = arrow_select::take::take(dict.values().as_ref(), dict.keys(), None)
                    .map_err(|e| {
                    Error::Columnar(format!(
                        "column `{}`: cannot decode its dictionary: {e}",
                        field.name()
                    ))
                })?;
                fields.push(
                    field
                        .as_ref()
                        .clone()
                        .with_data_type(decoded.data_type().clone()),
                );
                columns.push(decoded);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(col.clone());
            }
        }
    }
    RecordBatch::try_new(
        std::sync::Arc::new(arrow_schema::Schema::new(fields)),
        columns,
    )
    .map(Cow::Owned)
    .map_err(|e| Error::Columnar(format!("decoding dictionary columns: {e}")))
}

/// Episode records from Arrow record batches in the schema of DESIGN §2.4 (see the
/// module docs). Rows are numbered from 1 over the whole input; an error names the
/// episode id, the row and the column.
pub struct ArrowSource<I> {
    batches: I,
    /// Rows read so far.
    rows: u64,
    pending: Option<Pending>,
    /// Episodes complete and not yet handed out: (first row, record or why it is bad).
    ready: VecDeque<(u64, Result<InputRecord, RecordError>)>,
    /// Rows read into `ready` and `pending` since the last chunk (the progress unit).
    progress: u64,
    /// The first row without an episode id since the last row with one.
    orphan: Option<u64>,
    done: bool,
    /// Episode ids whose rows come in more than one run ([`fragmented_ids`]), when the
    /// input was scanned for them: each run is an error record.
    fragmented: std::collections::HashSet<String>,
}

/// The episode ids of `batches` whose rows are not contiguous (an id that starts a
/// second run of rows): one pass over the `episode_id` column. Memory: a 128-bit
/// fingerprint per distinct id (as the duplicate-id check), and the text of the
/// fragmented ids.
pub fn fragmented_ids<'a>(
    batches: impl IntoIterator<Item = Result<std::borrow::Cow<'a, RecordBatch>, Error>>,
) -> Result<std::collections::HashSet<String>, Error> {
    let mut seen: std::collections::HashSet<u128> = std::collections::HashSet::new();
    let mut fragmented = std::collections::HashSet::new();
    let mut last: Option<String> = None;
    for batch in batches {
        let batch = batch?;
        let batch = plain(&batch)?;
        let Some(col) = batch.column_by_name("episode_id") else {
            return Ok(fragmented);
        };
        let ids = Text::new(col.as_ref(), "episode_id", true)?;
        for r in 0..batch.num_rows() {
            let Some(id) = ids.get(r) else {
                continue;
            };
            if last.as_deref() != Some(id.as_ref()) {
                if !seen.insert(crate::pipeline::fingerprint(&id)) {
                    fragmented.insert(id.to_string());
                }
                last = Some(id.into_owned());
            }
        }
    }
    Ok(fragmented)
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> ArrowSource<I> {
    /// Episodes from `batches`, in order.
    pub fn new(batches: I) -> Self {
        ArrowSource {
            batches,
            rows: 0,
            pending: None,
            ready: VecDeque::new(),
            progress: 0,
            orphan: None,
            done: false,
            fragmented: std::collections::HashSet::new(),
        }
    }

    /// Marks the runs of the episodes of `fragmented` (from [`fragmented_ids`]) as
    /// errors: an episode whose rows are not contiguous is never scored from a fragment.
    pub fn with_fragmented(mut self, fragmented: std::collections::HashSet<String>) -> Self {
        self.fragmented = fragmented;
        self
    }

    /// Reads one batch's rows into `ready` (complete episodes) and `pending`.
    fn read_batch(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let batch = plain(batch)?;
        let batch = batch.as_ref();
        let cols = Columns::new(batch)?;
        for row in 0..batch.num_rows() {
            self.rows += 1;
            self.progress += 1;
            let at = self.rows;
            let Some(id) = cols.episode_id.get(row) else {
                // A row without an id: which episode it belongs to is unknown, the one
                // before it or the one after, so both are bad (an episode that goes on
                // after it stays one bad episode). With neither, the row is its own
                // error record.
                if let Some(p) = self.pending.as_mut()
                    && p.error.is_none()
                {
                    p.error = Some(no_id(Some(p.id.clone()), at));
                }
                self.orphan.get_or_insert(at);
                continue;
            };
            let same = self.pending.as_ref().is_some_and(|p| p.id == id);
            let orphan = self.orphan.take();
            if !same {
                if let Some(p) = self.pending.take() {
                    self.ready.push_back(p.finish());
                }
                let record = InputRecord {
                    id: Some(Id(id.to_string())),
                    messages: Some(Vec::new()),
                    outcome: cols.outcome(row),
                    coalition_values: cols.coalition_values(row),
                    agents: cols.agents(row),
                    ..InputRecord::default()
                };
                let split = self.fragmented.contains(id.as_ref()).then(|| {
                    row_error(
                        Some(id.to_string()),
                        at,
                        "episode_id",
                        ErrorKind::NotContiguous,
                        format!(
                            "the rows of episode {id:?} are not contiguous: its id reappears after other episodes' rows, so no fragment is scored (an episode's rows must be contiguous and in message order)"
                        ),
                    )
                });
                self.pending = Some(Pending {
                    error: split.or_else(|| orphan.map(|r| no_id(Some(id.to_string()), r))),
                    id: id.into_owned(),
                    first_row: at,
                    record,
                });
            }
            let p = self.pending.as_mut().expect("an episode is pending");
            if same && p.error.is_none() {
                let parts = |o: Option<&InputOutcome>| {
                    o.map_or((None, None, None), |o| {
                        (
                            o.reward.map(f64::to_bits),
                            o.baseline.map(f64::to_bits),
                            o.success,
                        )
                    })
                };
                let (r, b, s) = parts(cols.outcome(row).as_ref());
                let (r0, b0, s0) = parts(p.record.outcome.as_ref());
                let differs = if r != r0 {
                    Some("reward")
                } else if b != b0 {
                    Some("baseline")
                } else if s != s0 {
                    Some("success")
                } else {
                    cols.coalition_values(row)
                        .filter(|cv| {
                            p.record.coalition_values.as_ref().is_none_or(|first| {
                                first
                                    .iter()
                                    .map(|x| x.to_bits())
                                    .ne(cv.iter().map(|x| x.to_bits()))
                            })
                        })
                        .map(|_| "coalition_values")
                };
                if let Some(column) = differs {
                    p.error = Some(row_error(
                        Some(p.id.clone()),
                        at,
                        column,
                        ErrorKind::Schema,
                        format!(
                            "`{column}` differs from the episode's first row (row {}); an episode-level column repeats one value on every row",
                            p.first_row
                        ),
                    ));
                }
            }
            if p.error.is_none() {
                let m = cols.message(row);
                p.record
                    .messages
                    .as_mut()
                    .expect("a pending episode has messages")
                    .push(m);
            }
        }
        Ok(())
    }
}

/// The error of an episode next to a row without an episode id.
fn no_id(id: Option<String>, row: u64) -> RecordError {
    row_error(
        id,
        row,
        "episode_id",
        ErrorKind::Schema,
        "the row has no episode_id: it may belong to this episode",
    )
}

/// An error located at a row and a column.
fn row_error(
    id: Option<String>,
    row: u64,
    column: &str,
    kind: ErrorKind,
    message: impl Into<String>,
) -> RecordError {
    let mut e = RecordError::new(id, row, column, kind, message);
    e.row = true;
    e
}

/// Moves a validation error from the record's field path to its row and column: the
/// field `messages[3].parents[0]` of the episode starting at row 10 is row 13, column
/// `parents[0]`.
fn to_row(mut e: RecordError, first_row: u64) -> RecordError {
    e.row = true;
    let field = std::mem::take(&mut e.field);
    e.field = if let Some(rest) = field.strip_prefix("messages[") {
        match rest.split_once(']') {
            Some((k, tail)) if k.parse::<u64>().is_ok() => {
                e.line = first_row + k.parse::<u64>().unwrap_or(0);
                let tail = tail.strip_prefix('.').unwrap_or(tail);
                match tail.split_once(['.', '[']) {
                    Some((name, _)) => format!("{}{}", column_of(name), &tail[name.len()..]),
                    None if tail.is_empty() => "message_id".into(),
                    None => column_of(tail).to_string(),
                }
            }
            _ => field,
        }
    } else {
        match field.as_str() {
            "id" => "episode_id".into(),
            "outcome" | "outcome.reward" => "reward".into(),
            "outcome.baseline" => "baseline".into(),
            "outcome.success" => "success".into(),
            "agents" => "agent".into(),
            _ => field,
        }
    };
    e
}

/// The column of a message field.
fn column_of(field: &str) -> &str {
    match field {
        "id" => "message_id",
        other => other,
    }
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>> + Send> Source for ArrowSource<I> {
    /// Grouped rows: each record's first row and its input record (or why not).
    type Raw = Vec<(u64, Result<InputRecord, RecordError>)>;

    fn locate(e: RecordError) -> RecordError {
        if e.row {
            return e;
        }
        let first_row = e.line;
        to_row(e, first_row)
    }

    fn read(&mut self, opts: &RunOptions) -> Result<Option<(Self::Raw, u64)>, Error> {
        let max = opts.chunk_records.max(1);
        while self.ready.len() < max && !self.done {
            match self.batches.next() {
                Some(batch) => {
                    let batch = batch.map_err(|e| match e {
                        // A reader's own error (Parquet: the file and row group).
                        ArrowError::ExternalError(e) => Error::Columnar(e.to_string()),
                        e => Error::Columnar(format!("reading Arrow input: {e}")),
                    })?;
                    self.read_batch(&batch)?;
                }
                None => {
                    self.done = true;
                    match (self.pending.take(), self.orphan.take()) {
                        (Some(p), _) => self.ready.push_back(p.finish()),
                        (None, Some(at)) => self.ready.push_back((at, Err(no_id(None, at)))),
                        (None, None) => {}
                    }
                }
            }
        }
        if self.ready.is_empty() {
            return Ok(None);
        }
        let take = self.ready.len().min(max);
        let raw: Vec<_> = self.ready.drain(..take).collect();
        Ok(Some((raw, std::mem::take(&mut self.progress))))
    }

    fn validate(raw: Self::Raw, opts: &RunOptions) -> Validated {
        let vopts = opts.score.validate;
        raw.into_par_iter()
            .map(|(row, r)| {
                r.and_then(|rec| validate(rec, row, &vopts).map_err(|e| to_row(e, row)))
            })
            .collect()
    }
}
