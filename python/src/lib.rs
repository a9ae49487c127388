//! `creditflow._creditflow`: the Rust side of the Python package (DESIGN §8). Python
//! calls one of three entry points — Arrow stream, JSON Lines bytes, or a file — with
//! the options as a dict named like the command-line flags; scoring runs with the GIL
//! released, on a rayon pool of `threads` workers (all cores by default), and the
//! records' results stay on the Rust side in a [`Scored`] object, from which Python
//! takes the §6 tables (Arrow, zero-copy), the JSONL records, or numpy arrays.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, PyArrowType, Table};
use creditflow::io::arrow::{ArrowSource, TABLES, Tables, TablesBuilder, schema};
use creditflow::io::jsonl::{JsonlSource, to_line};
use creditflow::options::{FileFormat, Kind, OPTIONS, RunOptions, Settings, Use, Value};
use creditflow::{ArraysBuilder, BatchArrays, Scored as ScoredRecord, Source, Summary};
use numpy::IntoPyArray;
use pyo3::exceptions::{PyIOError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

/// A Python value as an option value: `None`, bool (numpy's too), str, int (numpy's
/// too), float (numpy's too), a dict of labels to numbers, or a pair of numbers.
fn py_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    let bad = || {
        PyTypeError::new_err(format!(
            "{name}: cannot use a value of type {}",
            type_name(v)
        ))
    };
    if v.is_none() {
        return Ok(Value::Absent);
    }
    if v.is_instance_of::<PyBool>() || is_numpy_bool(v) {
        return Ok(Value::Bool(v.is_truthy()?));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_string()));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut labels = Vec::with_capacity(d.len());
        for (k, x) in d.iter() {
            let label: String = k.extract().map_err(|_| bad())?;
            let x: f64 = x.extract().map_err(|_| bad())?;
            labels.push((label, x));
        }
        return Ok(Value::Labels(labels));
    }
    // Integers first: a float has no `__index__`, so 3.7 is never read as 3.
    if v.hasattr("__index__")? {
        let x: i128 = v.call_method0("__index__")?.extract().map_err(|_| bad())?;
        return Ok(Value::Int(x));
    }
    if let Ok(x) = v.extract::<f64>() {
        return Ok(Value::Float(x));
    }
    if let Ok((lo, hi)) = v.extract::<(f64, f64)>() {
        return Ok(Value::Interval(lo, hi));
    }
    Err(bad())
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// numpy's `bool_` (not a subclass of Python's bool).
fn is_numpy_bool(v: &Bound<'_, PyAny>) -> bool {
    v.getattr("dtype")
        .and_then(|d| d.getattr("kind"))
        .and_then(|k| k.extract::<String>())
        .is_ok_and(|k| k == "b")
}

/// The settings of keyword arguments taken by `use_` (`what`: the function's name): an
/// option the function does not take is a `TypeError`, as for any unexpected keyword
/// argument; a bad value a `ValueError` naming the option.
fn settings(what: &str, use_: Use, options: Option<&Bound<'_, PyDict>>) -> PyResult<Settings> {
    let mut s = Settings::default();
    for (k, v) in options.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract()?;
        if !OPTIONS.iter().any(|o| o.name == name && o.taken_by(use_)) {
            return Err(PyTypeError::new_err(format!(
                "{what}() got an unexpected keyword argument '{name}'"
            )));
        }
        let value = py_value(&name, &v)?;
        s.set(&name, value)
            .map_err(|e| PyValueError::new_err(format!("{}: {}", e.option, e.message)))?;
    }
    Ok(s)
}

/// The run options and the worker count of `score`'s keyword arguments.
fn run_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<(RunOptions, Option<usize>)> {
    let s = settings("score", Use::PyScore, options)?;
    let option_error = |e: creditflow::options::OptionError| {
        PyValueError::new_err(format!("{}: {}", e.option, e.message))
    };
    let threads = s.threads().map_err(option_error)?;
    Ok((s.build().map_err(option_error)?, threads))
}

/// A whole-run failure as a Python exception: a bad record under `strict` and a bad
/// option are `ValueError`s, I/O is `OSError`, the rest `RuntimeError`.
fn py_error(e: creditflow::Error) -> PyErr {
    match e {
        e if e.no_gpu_support() => PyValueError::new_err(
            "backend: this wheel was built without GPU support; use backend=\"cpu\" or \"auto\" \
             (or build with MATURIN_PEP517_ARGS=\"--features gpu\")",
        ),
        #[cfg(feature = "gpu")]
        creditflow::Error::Gpu(creditflow::GpuError::NoAdapter(why)) => PyValueError::new_err(
            format!("backend=\"gpu\": no GPU adapter ({why}); use backend=\"auto\" or \"cpu\""),
        ),
        creditflow::Error::Interrupted => {
            pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")
        }
        creditflow::Error::Io(io) => PyIOError::new_err(io.to_string()),
        e @ (creditflow::Error::Record(_)
        | creditflow::Error::Option(_)
        | creditflow::Error::Columnar(_)
        | creditflow::Error::NotJsonLines { .. }) => PyValueError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// Runs `f` on a pool of `threads` workers, or on the global pool (all cores).
fn on_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match threads {
        None => Ok(f()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            Ok(pool.install(f))
        }
    }
}

/// Runs `job` without the GIL on a worker thread while this thread watches for signals
/// (Python runs signal handlers only on the main thread, and only between bytecodes):
/// Ctrl-C raises `KeyboardInterrupt` here within a poll interval, and sets the flag the
/// job checks between chunks, so the work stops soon after and nothing is committed.
fn interruptible<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    job: impl FnOnce(&Arc<AtomicBool>) -> T + Send,
) -> PyResult<T> {
    let cancel = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let handle = s.spawn(|| on_pool(threads, || job(&cancel)));
        loop {
            if handle.is_finished() {
                return handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
            }
            py.detach(|| std::thread::sleep(std::time::Duration::from_millis(50)));
            if let Err(e) = py.check_signals() {
                cancel.store(true, Ordering::SeqCst);
                let _ = py.detach(|| handle.join());
                return Err(e);
            }
        }
    })
}

/// Keeps every record's result, and stops the run between chunks once `cancel` is set.
struct Keep<'a> {
    kept: Vec<ScoredRecord>,
    cancel: &'a AtomicBool,
}

impl creditflow::Sink for Keep<'_> {
    fn write(&mut self, results: Vec<ScoredRecord>) -> Result<(), creditflow::Error> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(creditflow::Error::Interrupted);
        }
        self.kept.extend(results);
        Ok(())
    }
}

/// Scores a source, keeping every record's result; stops between chunks once `cancel`
/// is set.
fn run(
    source: impl Source,
    opts: &RunOptions,
    cancel: &Arc<AtomicBool>,
) -> Result<(Vec<ScoredRecord>, Summary), creditflow::Error> {
    let mut keep = Keep {
        kept: Vec::new(),
        cancel,
    };
    // Stopped within about one episode's work of Ctrl-C, not one chunk's.
    let summary = creditflow::score_cancellable(source, &mut keep, opts, |_| {}, cancel.clone())?;
    Ok((keep.kept, summary))
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
        job: impl FnOnce(&Arc<AtomicBool>) -> Result<(Vec<ScoredRecord>, Summary), creditflow::Error>
        + Send,
    ) -> PyResult<Scored> {
        let (records, summary) = interruptible(py, threads, job)?.map_err(py_error)?;
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
                    .map(to_line)
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
        d.set_item("backend_why", &s.backend_why)?;
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
#[pyo3(signature = (data, options=None))]
fn score_arrow(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Scored> {
    let (opts, threads) = run_options(options)?;
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
    Scored::new(py, threads, move |cancel| {
        // Episodes whose rows are not contiguous are errors, never partial scores.
        let fragmented = if opts.unique_ids {
            Default::default()
        } else {
            creditflow::io::arrow::fragmented_ids(
                batches.iter().map(|b| Ok(std::borrow::Cow::Borrowed(b))),
            )?
        };
        let source = ArrowSource::new(batches.into_iter().map(Ok)).with_fragmented(fragmented);
        run(source, &opts, cancel)
    })
}

/// Scores JSON Lines text (records of DESIGN §2.1–2.2).
#[pyfunction]
#[pyo3(signature = (data, options=None))]
fn score_jsonl(
    py: Python<'_>,
    data: Vec<u8>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Scored> {
    let (opts, threads) = run_options(options)?;
    Scored::new(py, threads, move |cancel| {
        run(JsonlSource::new(Cursor::new(data)), &opts, cancel)
    })
}

/// Scores a JSONL or Parquet file (`format`: auto, jsonl or parquet).
#[pyfunction]
#[pyo3(signature = (path, format="auto", options=None))]
fn score_file(
    py: Python<'_>,
    path: PathBuf,
    format: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Scored> {
    let (opts, threads) = run_options(options)?;
    let format: FileFormat = format
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("format: {e}")))?;
    match format.resolve(Some(&path)) {
        FileFormat::Parquet => {
            let (source, _) =
                creditflow::io::parquet::open(&path, !opts.unique_ids).map_err(py_error)?;
            Scored::new(py, threads, move |cancel| run(source, &opts, cancel))
        }
        _ => {
            let file = std::fs::File::open(&path)
                .map_err(|e| PyIOError::new_err(format!("opening {}: {e}", path.display())))?;
            Scored::new(py, threads, move |cancel| {
                run(
                    JsonlSource::new(std::io::BufReader::with_capacity(1 << 20, file)),
                    &opts,
                    cancel,
                )
            })
        }
    }
}

/// Imports OTLP/JSON traces (DESIGN §2.5) from files or directories: one JSON text per
/// episode (as `creditflow import` writes them) and one message per skipped part. The
/// options are the rows of the option table taken by `import_traces`.
#[pyfunction]
#[pyo3(signature = (paths, options=None))]
fn import_traces(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Vec<String>, Vec<String>)> {
    use creditflow::io::otlp::TraceOptions;
    let s = settings("import_traces", Use::PyImport, options)?;
    let opts = TraceOptions::from_settings(&s)
        .map_err(|e| PyValueError::new_err(format!("{}: {}", e.option, e.message)))?;
    let threads = s
        .threads()
        .map_err(|e| PyValueError::new_err(format!("{}: {}", e.option, e.message)))?;
    interruptible(py, threads, move |cancel| {
        let mut episodes = Vec::new();
        let imported = creditflow::io::otlp::import_each(
            creditflow::io::otlp::inputs(&paths)?,
            &opts,
            &mut |rec| {
                if cancel.load(Ordering::SeqCst) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::Interrupted,
                        "interrupted",
                    ));
                }
                episodes.push(serde_json::to_string(&rec)?);
                Ok(())
            },
        )?;
        let errors = imported
            .errors
            .iter()
            .map(|e| format!("skipped: {e}"))
            .chain(imported.notes.iter().map(|n| format!("note: {n}")))
            .collect();
        Ok::<_, creditflow::io::ImportError>((episodes, errors))
    })?
    .map_err(|e| match e {
        creditflow::io::ImportError::Io { .. } => PyIOError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    })
}

/// The records of a file `creditflow score` wrote (JSON Lines, or the §6 Parquet tables
/// of `out.parquet`), read by the library's one typed reader of that output and checked:
/// one JSON text per record. A bad record is a `ValueError` naming the file, line (or
/// row) and field.
#[pyfunction]
fn read_scored(py: Python<'_>, path: PathBuf) -> PyResult<Vec<String>> {
    py.detach(move || {
        let mut out = Vec::new();
        for r in creditflow::io::scored::open(&path)? {
            out.push(
                serde_json::to_string(&r?)
                    .map_err(|e| creditflow::io::scored::ScoredError::Columnar(e.to_string()))?,
            );
        }
        Ok(out)
    })
    .map_err(|e: creditflow::io::scored::ScoredError| match e {
        creditflow::io::scored::ScoredError::Io { .. } => PyIOError::new_err(e.to_string()),
        e => PyValueError::new_err(e.to_string()),
    })
}

/// A value as Python sees it.
fn to_py<'py>(py: Python<'py>, v: Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Absent => py.None().into_bound(py),
        Value::Text(s) => s.into_pyobject(py)?.into_any(),
        Value::Int(x) => x.into_pyobject(py)?.into_any(),
        Value::Float(x) => x.into_pyobject(py)?.into_any(),
        Value::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
        Value::Labels(l) => {
            let d = PyDict::new(py);
            for (k, x) in l {
                d.set_item(k, x)?;
            }
            d.into_any()
        }
        Value::Interval(lo, hi) => (lo, hi).into_pyobject(py)?.into_any(),
    })
}

/// The option table: one dict per row taken by Python (name, kind, default, doc, and
/// the functions that take it: `score`, `import_traces`).
#[pyfunction]
fn options(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let defaults = Settings::default();
    let rows = PyList::empty(py);
    for spec in OPTIONS {
        let functions: Vec<&str> = [(Use::PyScore, "score"), (Use::PyImport, "import_traces")]
            .iter()
            .filter(|(u, _)| spec.taken_by(*u))
            .map(|(_, f)| *f)
            .collect();
        if functions.is_empty() {
            continue;
        }
        let d = PyDict::new(py);
        d.set_item("name", spec.name)?;
        d.set_item(
            "kind",
            match spec.kind {
                Kind::Choice(_) => "choice",
                Kind::Count { .. } | Kind::OptCount { .. } => "int",
                Kind::Number { .. } | Kind::OptNumber { .. } => "float",
                Kind::Switch => "bool",
                Kind::Text => "str",
                Kind::Path => "path",
                Kind::Labels => "labels",
                Kind::Interval => "interval",
            },
        )?;
        if let Kind::Choice(names) = spec.kind {
            d.set_item("choices", names.to_vec())?;
        }
        d.set_item("values", spec.kind.describe())?;
        d.set_item(
            "default",
            to_py(py, defaults.get(spec.name).expect("a row"))?,
        )?;
        d.set_item("doc", spec.doc)?;
        d.set_item("functions", functions)?;
        rows.append(d)?;
    }
    Ok(rows)
}

/// The Arrow schema of the §2.4 input rows.
#[pyfunction]
fn input_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    PyArrowType(arrow_schema::Schema::clone(
        &creditflow::io::arrow::input_schema(),
    ))
    .into_pyobject(py)
}

#[pymodule]
fn _creditflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scored>()?;
    m.add_function(wrap_pyfunction!(score_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(score_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(score_file, m)?)?;
    m.add_function(wrap_pyfunction!(options, m)?)?;
    m.add_function(wrap_pyfunction!(read_scored, m)?)?;
    m.add_function(wrap_pyfunction!(import_traces, m)?)?;
    m.add_function(wrap_pyfunction!(input_schema, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GPU", cfg!(feature = "gpu"))?;
    Ok(())
}
