//! `creditflow._creditflow`: the Rust side of the Python package (DESIGN §8). Python
//! calls one of three entry points — Arrow stream, JSON Lines bytes, or a file — with
//! the options as a dict named like the command-line flags; scoring runs with the GIL
//! released, on a rayon pool of `threads` workers (all cores by default), and the
//! records' results stay on the Rust side in a [`Scored`] object, from which Python
//! takes the §6 tables (Arrow, zero-copy), the JSONL records, or numpy arrays.

use std::io::Cursor;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, PyArrowType, Table};
use creditflow::arrays::{ArraysBuilder, BatchArrays};
use creditflow::columnar::{ArrowSource, TABLES, Tables, TablesBuilder, schema};
use creditflow::options::{FileFormat, RunOptions, SettingValue, Settings};
use creditflow::output::{ErrorOut, OutRecord};
use creditflow::pipeline::{JsonlSource, Scored as ScoredRecord, Source, Summary, score_source};
use numpy::IntoPyArray;
use pyo3::exceptions::{PyIOError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Sets one option of `s` from a Python value, extracted as the kind the option has
/// (`Settings::get` of the default says which); a bad value is a `ValueError` naming the
/// option, an unknown name a `TypeError` (as for any unexpected keyword argument).
fn set_option(s: &mut Settings, name: &str, v: &Bound<'_, PyAny>) -> PyResult<()> {
    let bad = |what: &str| PyValueError::new_err(format!("{name}: expected {what}"));
    let is_bool = v.is_instance_of::<pyo3::types::PyBool>();
    let value = match s.get(name) {
        None => {
            return Err(PyTypeError::new_err(format!(
                "score() got an unexpected keyword argument {name:?}"
            )));
        }
        Some(SettingValue::Choice(_)) => {
            let text: String = v.extract().map_err(|_| bad("a string"))?;
            return set(s, name, SettingValue::Choice(&text));
        }
        Some(SettingValue::Int(_)) if !is_bool => {
            SettingValue::Int(v.extract().map_err(|_| bad("a non-negative integer"))?)
        }
        Some(SettingValue::Float(_)) if !is_bool => {
            SettingValue::Float(v.extract().map_err(|_| bad("a number"))?)
        }
        Some(SettingValue::OptFloat(_)) if !is_bool => SettingValue::OptFloat(
            v.extract::<Option<f64>>()
                .map_err(|_| bad("a number or None"))?,
        ),
        Some(SettingValue::Bool(_)) if is_bool => SettingValue::Bool(v.extract()?),
        Some(SettingValue::Bool(_)) => return Err(bad("a boolean")),
        Some(_) => return Err(bad("a number, not a boolean")),
    };
    set(s, name, value)
}

fn set(s: &mut Settings, name: &str, value: SettingValue<'_>) -> PyResult<()> {
    s.set(name, value)
        .map(|_| ())
        .map_err(|e| PyValueError::new_err(format!("{}: {}", e.option, e.message)))
}

/// The run options of a dict of keyword arguments.
fn run_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<RunOptions> {
    let mut s = Settings::default();
    if let Some(d) = options {
        for (k, v) in d.iter() {
            let name: String = k.extract()?;
            set_option(&mut s, &name, &v)?;
        }
    }
    s.build()
        .map_err(|e| PyValueError::new_err(format!("{}: {}", e.option, e.message)))
}

/// A whole-run failure as a Python exception: a bad record under `strict` and a bad
/// option are `ValueError`s, I/O is `OSError`, the rest `RuntimeError`.
fn py_error(e: creditflow::Error) -> PyErr {
    match e {
        creditflow::Error::Io(io) => PyIOError::new_err(io.to_string()),
        e @ (creditflow::Error::Record(_)
        | creditflow::Error::Option(_)
        | creditflow::Error::Columnar(_)) => PyValueError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// Runs `f` on a pool of `threads` workers, or on the global pool (all cores).
fn on_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match threads {
        None => Ok(f()),
        Some(0) => Err(PyValueError::new_err("threads: must be at least 1")),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            Ok(pool.install(f))
        }
    }
}

/// Scores a source, keeping every record's result.
fn run(
    source: impl Source,
    opts: &RunOptions,
) -> Result<(Vec<ScoredRecord>, Summary), creditflow::Error> {
    let mut kept = Vec::new();
    let summary = score_source(
        source,
        opts,
        |_| {},
        |results| {
            kept.extend(results);
            Ok(())
        },
    )?;
    Ok((kept, summary))
}

/// The results of one `score` call, held on the Rust side.
#[pyclass(frozen, module = "creditflow._creditflow")]
struct Scored {
    records: Vec<ScoredRecord>,
    summary: Summary,
}

impl Scored {
    fn new(
        py: Python<'_>,
        threads: Option<usize>,
        job: impl FnOnce() -> Result<(Vec<ScoredRecord>, Summary), creditflow::Error> + Send,
    ) -> PyResult<Scored> {
        let (records, summary) = py.detach(|| on_pool(threads, job))?.map_err(py_error)?;
        Ok(Scored { records, summary })
    }
}

#[pymethods]
impl Scored {
    /// The §6 tables as a dict of `pyarrow.Table`: messages, agents, episodes, errors,
    /// games.
    fn tables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let tables: Tables = py
            .detach(|| {
                let mut b = TablesBuilder::new();
                for r in &self.records {
                    b.push(r.as_ref().map(|(o, _)| o));
                }
                b.finish()
            })
            .map_err(py_error)?;
        let out = PyDict::new(py);
        for (name, batch) in tables.named() {
            let t = Table::try_new(vec![batch.clone()], schema(name))
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            out.set_item(name, t.into_pyarrow(py)?)?;
        }
        debug_assert_eq!(out.len(), TABLES.len());
        Ok(out)
    }

    /// One JSON text per record, as `creditflow score` writes them, in input order.
    fn records_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let lines: Vec<String> = py
            .detach(|| {
                use rayon::prelude::*;
                self.records
                    .par_iter()
                    .map(|r| match r {
                        Ok((o, _)) => serde_json::to_string(o),
                        Err(e) => serde_json::to_string(&OutRecord::Error(ErrorOut::from(e))),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        PyList::new(py, lines)
    }

    /// The preference pairs (TRL conversational format) as JSON texts, when the run had
    /// `pairs=True`.
    fn pairs_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let lines: Vec<String> = self
            .records
            .iter()
            .flat_map(|r| r.iter().flat_map(|(_, p)| p.iter().map(|v| v.to_string())))
            .collect();
        PyList::new(py, lines)
    }

    /// The numbers as numpy arrays (ragged values with CSR offsets, as in
    /// `creditflow::arrays`), plus the dense episodes × agents credit matrix.
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let a: BatchArrays = py.detach(|| {
            let mut b = ArraysBuilder::new();
            for (o, _) in self.records.iter().flatten() {
                b.push(o);
            }
            b.finish()
        });
        let d = PyDict::new(py);
        d.set_item("agent_matrix", a.agent_matrix().into_pyarray(py))?;
        d.set_item("agent_se_matrix", a.agent_se_matrix().into_pyarray(py))?;
        d.set_item("episodes", PyList::new(py, &a.episodes)?)?;
        d.set_item("agent_offsets", a.agent_offsets.into_pyarray(py))?;
        d.set_item("agent_credit", a.agent_credit.into_pyarray(py))?;
        d.set_item("agent_se", a.agent_se.into_pyarray(py))?;
        d.set_item("message_offsets", a.message_offsets.into_pyarray(py))?;
        d.set_item("message_index", a.message_index.into_pyarray(py))?;
        d.set_item("message_credit", a.message_credit.into_pyarray(py))?;
        d.set_item("message_se", a.message_se.into_pyarray(py))?;
        d.set_item("message_reward", a.message_reward.into_pyarray(py))?;
        d.set_item("reward", a.reward.into_pyarray(py))?;
        d.set_item("baseline", a.baseline.into_pyarray(py))?;
        d.set_item("first_error", a.first_error.into_pyarray(py))?;
        d.set_item("games", PyList::new(py, &a.games)?)?;
        d.set_item("game_offsets", a.game_offsets.into_pyarray(py))?;
        d.set_item("game_shapley", a.game_shapley.into_pyarray(py))?;
        d.set_item("game_se", a.game_se.into_pyarray(py))?;
        Ok(d)
    }

    /// The run's summary: counts, methods, flags, samples, backend, elapsed seconds.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.summary;
        let d = PyDict::new(py);
        d.set_item("records", s.records)?;
        d.set_item("episodes", s.episodes)?;
        d.set_item("games", s.games)?;
        d.set_item("successes", s.successes)?;
        d.set_item("errors", s.errors)?;
        d.set_item("pairs", s.pairs)?;
        d.set_item("samples", s.samples)?;
        d.set_item("methods", s.methods.clone().into_pyobject(py)?)?;
        d.set_item("flags", s.flags.clone().into_pyobject(py)?)?;
        d.set_item("backend", &s.backend)?;
        d.set_item("seconds", s.elapsed.as_secs_f64())?;
        Ok(d)
    }

    /// The summary as the command line prints it.
    fn summary_text(&self) -> String {
        self.summary.to_string()
    }

    fn __len__(&self) -> usize {
        self.records.len()
    }
}

/// Scores §2.4 rows from anything that exports an Arrow C stream (a `pyarrow.Table`,
/// `RecordBatch` or `RecordBatchReader`), without copying the columns.
#[pyfunction]
#[pyo3(signature = (data, options=None, threads=None))]
fn score_arrow(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<Scored> {
    let opts = run_options(options)?;
    let batches: Vec<RecordBatch> = if let Ok(b) = RecordBatch::from_pyarrow_bound(data) {
        vec![b]
    } else {
        let t = Table::from_pyarrow_bound(data).map_err(|e| {
            PyTypeError::new_err(format!(
                "expected a pyarrow Table, RecordBatch or RecordBatchReader: {e}"
            ))
        })?;
        t.into_inner().0
    };
    Scored::new(py, threads, move || {
        run(ArrowSource::new(batches.into_iter().map(Ok)), &opts)
    })
}

/// Scores JSON Lines text (records of DESIGN §2.1–2.2).
#[pyfunction]
#[pyo3(signature = (data, options=None, threads=None))]
fn score_jsonl(
    py: Python<'_>,
    data: Vec<u8>,
    options: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<Scored> {
    let opts = run_options(options)?;
    Scored::new(py, threads, move || {
        run(JsonlSource::new(Cursor::new(data)), &opts)
    })
}

/// Scores a JSONL or Parquet file (`format`: auto, jsonl or parquet).
#[pyfunction]
#[pyo3(signature = (path, format="auto", options=None, threads=None))]
fn score_file(
    py: Python<'_>,
    path: PathBuf,
    format: &str,
    options: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<Scored> {
    let opts = run_options(options)?;
    let format: FileFormat = format
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("format: {e}")))?;
    match format.resolve(Some(&path)) {
        FileFormat::Parquet => {
            let (source, _) = creditflow::columnar::parquet::open(&path).map_err(py_error)?;
            Scored::new(py, threads, move || run(source, &opts))
        }
        _ => {
            let file = std::fs::File::open(&path)
                .map_err(|e| PyIOError::new_err(format!("opening {}: {e}", path.display())))?;
            Scored::new(py, threads, move || {
                run(
                    JsonlSource::new(std::io::BufReader::with_capacity(1 << 20, file)),
                    &opts,
                )
            })
        }
    }
}

/// The option names and their defaults, for the Python signature and docs.
/// Imports OTLP/JSON traces (DESIGN §2.5) from files or directories: one JSON text per
/// episode (as `creditflow import` writes them) and one message per skipped part.
#[pyfunction]
#[pyo3(signature = (paths, evaluation=None, label_score=None, score_range=None, outcome_evaluation=None, outcomes=None, reward=None, provenance="prefix"))]
#[allow(clippy::too_many_arguments)]
fn import_traces(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    evaluation: Option<String>,
    label_score: Option<String>,
    score_range: Option<String>,
    outcome_evaluation: Option<String>,
    outcomes: Option<PathBuf>,
    reward: Option<f64>,
    provenance: &str,
) -> PyResult<(Vec<String>, Vec<String>)> {
    use creditflow::otlp::{TraceOptions, parse_label_scores, parse_score_range};
    let bad = |name: &str, e: String| PyValueError::new_err(format!("{name}: {e}"));
    if reward.is_some_and(|r| !r.is_finite()) {
        return Err(bad("reward", "must be finite".into()));
    }
    let opts = TraceOptions {
        provenance: provenance
            .parse()
            .map_err(|e: String| bad("provenance", e))?,
        evaluation,
        outcome_evaluation,
        label_scores: match label_score {
            Some(t) => parse_label_scores(&t).map_err(|e| bad("label_score", e))?,
            None => Vec::new(),
        },
        score_range: match score_range {
            Some(t) => Some(parse_score_range(&t).map_err(|e| bad("score_range", e))?),
            None => None,
        },
        reward,
        outcomes,
        ..TraceOptions::default()
    };
    py.detach(move || {
        let mut episodes = Vec::new();
        let imported =
            creditflow::otlp::import_each(creditflow::otlp::inputs(&paths)?, &opts, &mut |rec| {
                episodes.push(serde_json::to_string(&rec)?);
                Ok(())
            })?;
        let errors = imported.errors.iter().map(ToString::to_string).collect();
        Ok::<_, creditflow::import::ImportError>((episodes, errors))
    })
    .map_err(|e| match e {
        creditflow::import::ImportError::Io { .. } => PyIOError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    })
}

#[pyfunction]
fn defaults<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let s = Settings::default();
    let d = PyDict::new(py);
    for &name in Settings::NAMES {
        match s.get(name).expect("a listed setting") {
            SettingValue::Choice(c) => d.set_item(name, c)?,
            SettingValue::Int(x) => d.set_item(name, x)?,
            SettingValue::Float(x) => d.set_item(name, x)?,
            SettingValue::OptFloat(x) => d.set_item(name, x)?,
            SettingValue::Bool(x) => d.set_item(name, x)?,
        }
    }
    Ok(d)
}

/// The Arrow schema of the §2.4 input rows.
#[pyfunction]
fn input_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    PyArrowType(arrow_schema::Schema::clone(
        &creditflow::columnar::input_schema(),
    ))
    .into_pyobject(py)
}

#[pymodule]
fn _creditflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scored>()?;
    m.add_function(wrap_pyfunction!(score_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(score_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(score_file, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(import_traces, m)?)?;
    m.add_function(wrap_pyfunction!(input_schema, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GPU", cfg!(feature = "gpu"))?;
    Ok(())
}
