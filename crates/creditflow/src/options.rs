//! Every option of scoring in one place, at the bottom of the crate: the typed option
//! structs each stage reads ([`ModelParams`] for the games, [`SampleOptions`] for the
//! estimators, [`ValidateOptions`], [`SignalOptions`], gathered in [`ScoreOptions`] and
//! [`RunOptions`]), the named choices (`--method exact`, `method="exact"`), and the one
//! validation every caller gets: [`RunOptions::validate`] (called by every entry point
//! of the library) and [`Settings`], the options by the names of the command line and the
//! Python keyword arguments, with their defaults.

/// A bad option value: which option (named as on the command line, without dashes) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for `{option}`: {message}")]
pub struct OptionError {
    /// The option's name (`alpha`, `target_se`, …).
    pub option: &'static str,
    /// What is wrong, with the value given.
    pub message: String,
}

impl OptionError {
    fn new(option: &'static str, message: impl Into<String>) -> Self {
        OptionError {
            option,
            message: message.into(),
        }
    }
}

/// Gives a fieldless option enum its names: `NAMES` (every name, in order), `name()`,
/// `FromStr` and `Display`, so the command line, Python and the output spell each value
/// the same way.
macro_rules! names {
    ($t:ident { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            /// Every value's name, as the command line and Python spell it.
            pub const NAMES: &'static [&'static str] = &[$($s),+];

            /// This value's name.
            pub fn name(self) -> &'static str {
                match self {
                    $($t::$v => $s),+
                }
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($t::$v),)+
                    _ => Err(format!("expected one of {}, got {s:?}", Self::NAMES.join(", "))),
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use names;

/// Which credits to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Players {
    /// Agent credit only.
    Agents,
    /// Message credit (agent credit too when message credit is the Owen value, as the
    /// sum of each agent's message credits).
    Messages,
    /// Both (default).
    #[default]
    Both,
}

names!(Players {
    Agents => "agents",
    Messages => "messages",
    Both => "both",
});

/// How message credit is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageCreditKind {
    /// The Owen value with agents as a priori unions: refines agent credit exactly.
    #[default]
    Owen,
    /// Flat Shapley values of the message game.
    Shapley,
}

names!(MessageCreditKind {
    Owen => "owen",
    Shapley => "shapley",
});

/// Everything that shapes scoring.
#[derive(Debug, Clone, Copy)]
pub struct ScoreOptions {
    /// The surrogate model.
    pub model: ModelParams,
    /// Which credits.
    pub players: Players,
    /// Owen or flat Shapley message credit.
    pub message_credit: MessageCreditKind,
    /// The estimator.
    pub method: Method,
    /// The surrogate's control variate for sampled jobs (DESIGN §4).
    pub control_variate: ControlVariate,
    /// Monte Carlo budget and seed.
    pub sampling: SampleOptions,
    /// Validation options.
    pub validate: ValidateOptions,
    /// Training-signal options.
    pub signals: SignalOptions,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            model: ModelParams::default(),
            players: Players::Both,
            message_credit: MessageCreditKind::Owen,
            method: Method::Auto,
            control_variate: ControlVariate::Auto,
            sampling: SampleOptions::default(),
            validate: ValidateOptions::default(),
            signals: SignalOptions::default(),
        }
    }
}

/// Which estimator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Exact for ≤ 12 players (`AUTO_EXACT_PLAYERS`), else the closed form where it applies,
    /// else permutation sampling. Möbius games always use their closed form.
    #[default]
    Auto,
    /// Enumerate all coalitions (≤ 20 players).
    Exact,
    /// Monte Carlo permutation sampling (Owen sampling for message credit).
    Permutation,
    /// Closed form for sums of unanimity games.
    ClosedForm,
    /// Paired, size-stratified regression with odd three-way interactions, for game
    /// records (black-box values): `--budget` value evaluations per record.
    Regression,
}

names!(Method {
    Auto => "auto",
    Exact => "exact",
    Permutation => "permutation",
    ClosedForm => "closed-form",
    Regression => "regression",
});

/// Whether sampled surrogate jobs use the control variate v − β·v_lin (DESIGN §4; the
/// rule is `crate::plan`'s, the estimator `crate::estimate::control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlVariate {
    /// Where the pilot round says it pays: a nonlinear model whose residual variance,
    /// weighed by the measured extra cost of evaluating v_lin, is below plain sampling's.
    #[default]
    Auto,
    /// On every sampled job of a nonlinear model whose v_lin has a closed form.
    On,
    /// Plain permutation sampling (the numbers of releases before the control variate).
    Off,
}

names!(ControlVariate {
    Auto => "auto",
    On => "on",
    Off => "off",
});

/// How a message's presence combines its parents' presences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// The mean of the parents' presences.
    #[default]
    Mean,
    /// The minimum: a message needs all its inputs.
    Min,
    /// The maximum: any input suffices.
    Max,
}

names!(Aggregate {
    Mean => "mean",
    Min => "min",
    Max => "max",
});

/// The link from team quality Q to value v.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Link {
    /// v = Q.
    Linear,
    /// v = 1 / (1 + exp(−κ (Q − τ))).
    Logistic {
        /// Slope κ.
        kappa: f64,
        /// Threshold τ.
        tau: f64,
    },
    /// v = min(Q, cap).
    Saturating {
        /// The cap.
        cap: f64,
    },
}

impl Link {
    /// Applies the link.
    #[inline]
    pub fn apply(&self, q: f64) -> f64 {
        match *self {
            Link::Linear => q,
            Link::Logistic { kappa, tau } => 1.0 / (1.0 + (-kappa * (q - tau)).exp()),
            Link::Saturating { cap } => q.min(cap),
        }
    }
}

/// Parameters of the surrogate model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelParams {
    /// Self-sufficiency α ∈ [0, 1] of a message whose inputs were ablated.
    pub alpha: f64,
    /// Aggregate over parents.
    pub aggregate: Aggregate,
    /// Link from Q to v.
    pub link: Link,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            alpha: 0.5,
            aggregate: Aggregate::Mean,
            link: Link::Linear,
        }
    }
}

impl ModelParams {
    /// True when v is a linear combination of unanimity games over provenance paths,
    /// so the closed form applies (linear link, mean aggregate; groups checked per episode).
    pub fn is_linear(&self) -> bool {
        self.link == Link::Linear && self.aggregate == Aggregate::Mean
    }
}

/// How many samples to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleOptions {
    /// Permutations per record (rounded up to an even number: antithetic pairs).
    pub samples: u64,
    /// Adaptive mode: sample until every credit's SE ≤ this (or the budget is spent).
    pub target_se: Option<f64>,
    /// Most permutations per record in adaptive mode.
    pub max_samples: u64,
    /// The seed.
    pub seed: u64,
    /// `--budget`: value evaluations per record for `--method regression`, ∅ and N
    /// included (`None`: the cost of `samples` permutations, `samples·(n − 1) + 2`).
    pub budget: Option<u64>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            samples: 1024,
            target_se: None,
            max_samples: 1 << 20,
            seed: 0,
            budget: None,
        }
    }
}

/// How parents are filled in for messages whose `parents` field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Every earlier message (broadcast group chats).
    #[default]
    Prefix,
    /// The previous message plus the first message.
    Chain,
    /// No parents: the message is a root.
    None,
}

names!(Provenance {
    Prefix => "prefix",
    Chain => "chain",
    None => "none",
});

/// Options that shape validation.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    /// Provenance for messages without `parents`.
    pub provenance: Provenance,
    /// `outcome.success` defaults to `reward >= threshold`.
    pub threshold: f64,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            provenance: Provenance::Prefix,
            threshold: 0.5,
        }
    }
}

/// How success-branch message rewards are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// The Owen message credit.
    #[default]
    Owen,
    /// The label split of agent credit.
    Label,
}

names!(Split {
    Owen => "owen",
    Label => "label",
});

/// How the first error of a failed episode is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstErrorMethod {
    /// The earliest harmful message by score.
    #[default]
    Label,
    /// The earliest message whose removal lifts the predicted reward to success.
    Counterfactual,
}

names!(FirstErrorMethod {
    Label => "label",
    Counterfactual => "counterfactual",
});

/// What a failed episode's message rewards (`reward`) are. The default is the best
/// signal of the learning experiment (docs/learning.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureReward {
    /// The message credit plus the repair-aware schedule divided by the episode's number
    /// of agent messages M (the credits' scale): credit − 1/M at the first error,
    /// + η/M for later helpful messages, − γ/M for later messages built on it.
    #[default]
    CreditPlusSchedule,
    /// The message credit, as on success (Owen credit, or the label split).
    Credit,
    /// The paper's repair-aware schedule alone: 0 before the first error, −1 at it, +η
    /// for later helpful messages, −γ for later non-positive messages built on it.
    RepairSchedule,
}

names!(FailureReward {
    CreditPlusSchedule => "credit-plus-schedule",
    Credit => "credit",
    RepairSchedule => "repair-schedule",
});

/// Options of the training signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalOptions {
    /// Success-branch split.
    pub split: Split,
    /// Failure-branch rewards.
    pub failure_reward: FailureReward,
    /// ρ of the label split.
    pub rho: f64,
    /// First-error method.
    pub first_error: FirstErrorMethod,
    /// η: reward of a repair attempt.
    pub eta: f64,
    /// γ: penalty of a message that builds on the error.
    pub gamma: f64,
    /// Build preference pairs.
    pub pairs: bool,
}

impl Default for SignalOptions {
    fn default() -> Self {
        SignalOptions {
            split: Split::Owen,
            failure_reward: FailureReward::CreditPlusSchedule,
            rho: 0.25,
            first_error: FirstErrorMethod::Label,
            eta: 0.5,
            gamma: 0.5,
            pairs: false,
        }
    }
}

/// Where Monte Carlo estimates are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// A hardware GPU adapter when there is one, else the CPU.
    #[default]
    Auto,
    /// The CPU (rayon over records).
    Cpu,
    /// The GPU (any adapter, software ones included); an error when there is none.
    Gpu,
}

names!(BackendChoice {
    Auto => "auto",
    Cpu => "cpu",
    Gpu => "gpu",
});

/// Options of a `score` run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Scoring options.
    pub score: ScoreOptions,
    /// Stop at the first bad record with an error (non-zero exit).
    pub strict: bool,
    /// Records per chunk (default 4096).
    pub chunk_records: usize,
    /// Input bytes per chunk (default 64 MiB): with `chunk_records`, bounds memory by
    /// bytes whatever the records' sizes. A chunk holds at least one line.
    pub chunk_bytes: usize,
    /// Skip the duplicate-id check (its memory is about 50 bytes per record: 5 GB at
    /// 10^8 records) for inputs known to have unique ids.
    pub unique_ids: bool,
    /// Where Monte Carlo estimates are computed (the library default is the CPU; the
    /// command line defaults to `auto`).
    pub backend: BackendChoice,
    /// Chunks read ahead (default 2): reading, planning, estimating and writing run at
    /// once on consecutive chunks, up to this + 2 chunks in memory; 1 runs them one after
    /// another. Outputs are identical at every depth.
    pub pipeline: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            score: ScoreOptions::default(),
            strict: false,
            chunk_records: 4096,
            chunk_bytes: 64 << 20,
            unique_ids: false,
            backend: BackendChoice::Cpu,
            pipeline: 2,
        }
    }
}

/// The kind of [`Link`], without its parameters (`--link`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkKind {
    /// v = Q.
    #[default]
    Linear,
    /// v = 1 / (1 + exp(−κ (Q − τ))).
    Logistic,
    /// v = min(Q, cap).
    Saturating,
}

names!(LinkKind {
    Linear => "linear",
    Logistic => "logistic",
    Saturating => "saturating",
});

// ---------------------------------------------------------------- the option table

/// Where an option is taken: the commands of the command line and the functions of the
/// Python package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `creditflow score`.
    Score,
    /// `creditflow verify` (scores like `score`).
    Verify,
    /// `creditflow import` of traces.
    Import,
    /// Python's `creditflow.score(...)`.
    PyScore,
    /// Python's `creditflow.import_traces(...)`.
    PyImport,
    /// `creditflow export otel`.
    Export,
}

/// What values an option takes, and their allowed range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// One of these names.
    Choice(&'static [&'static str]),
    /// An integer in [min, max].
    Count {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// An integer in [min, max], or absent.
    OptCount {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A finite number in [min, max].
    Number {
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
    },
    /// A finite number in [min, max], or absent.
    OptNumber {
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
    },
    /// A switch (a flag on the command line, a bool in Python).
    Switch,
    /// A name, or absent.
    Text,
    /// A file, or absent.
    Path,
    /// Labels as numbers: `pass=1,fail=-1` on the command line, a dict in Python.
    Labels,
    /// An interval `lo:hi` (lo < hi) on the command line, a pair in Python, or absent.
    Interval,
}

impl Kind {
    /// How the value is written in help texts (`<N>`, `<X>`, ...).
    pub fn value_name(&self) -> &'static str {
        match self {
            Kind::Choice(_) => "NAME",
            Kind::Count { .. } | Kind::OptCount { .. } => "N",
            Kind::Number { .. } | Kind::OptNumber { .. } => "X",
            Kind::Switch => "",
            Kind::Text => "NAME",
            Kind::Path => "FILE",
            Kind::Labels => "LABEL=X,...",
            Kind::Interval => "LO:HI",
        }
    }

    /// The allowed values, in words (for the docs and error messages).
    pub fn describe(&self) -> String {
        match *self {
            Kind::Choice(names) => format!("one of {}", names.join(", ")),
            Kind::Count { min, max } | Kind::OptCount { min, max } => {
                if max == u64::MAX {
                    format!("an integer ≥ {min}")
                } else {
                    format!("an integer in [{min}, {max}]")
                }
            }
            Kind::Number { min, max } | Kind::OptNumber { min, max } => range_words(min, max),
            Kind::Switch => "a switch".into(),
            Kind::Text => "a name".into(),
            Kind::Path => "a file".into(),
            Kind::Labels => "labels as numbers (label=x, ...)".into(),
            Kind::Interval => "an interval lo:hi with lo < hi".into(),
        }
    }
}

fn range_words(lo: f64, hi: f64) -> String {
    match (lo == f64::MIN, hi == f64::MAX) {
        (true, true) => "a finite number".to_string(),
        (false, true) if lo == f64::MIN_POSITIVE => "a finite number > 0".to_string(),
        (false, true) => format!("a finite number ≥ {lo}"),
        _ => format!("a number in [{lo}, {hi}]"),
    }
}

/// One row of the option table: everything the command line, Python and the docs say
/// about an option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    /// The name: `--samples` on the command line (underscores as dashes), `samples=` in
    /// Python.
    pub name: &'static str,
    /// A one-letter flag, if any (`-j`).
    pub short: Option<char>,
    /// The values it takes.
    pub kind: Kind,
    /// One line of documentation.
    pub doc: &'static str,
    /// Where it is taken.
    pub uses: &'static [Use],
}

impl OptionSpec {
    /// The command-line spelling: `--max-samples`.
    pub fn flag(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// Whether `use_` takes this option.
    pub fn taken_by(&self, use_: Use) -> bool {
        self.uses.contains(&use_)
    }

    /// The default value as text (`None`: absent by default).
    pub fn default_text(&self) -> Option<String> {
        Settings::default()
            .get(self.name)
            .expect("every row is a setting")
            .to_text()
    }
}

/// One option's value: what the command line gives (text) or what Python gives (typed).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent (`None` in Python).
    Absent,
    /// Text: a name, or any value written as on the command line.
    Text(String),
    /// An integer.
    Int(i128),
    /// A number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Labels as numbers.
    Labels(Vec<(String, f64)>),
    /// An interval.
    Interval(f64, f64),
}

impl Value {
    /// The value as the command line would write it (`None` when absent).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Absent => None,
            Value::Text(s) => Some(s.clone()),
            Value::Int(x) => Some(x.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Labels(l) => Some(
                l.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Value::Interval(lo, hi) => Some(format!("{lo}:{hi}")),
        }
    }

    fn kind_name(&self) -> String {
        match self {
            Value::Absent => "nothing".into(),
            Value::Text(s) => format!("{s:?}"),
            Value::Int(x) => x.to_string(),
            Value::Float(x) => x.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Labels(_) => "labels".into(),
            Value::Interval(lo, hi) => format!("({lo}, {hi})"),
        }
    }
}

/// A setting's field type: read from a [`Value`] under its row's [`Kind`] (ranges
/// checked), written back as a [`Value`].
pub trait Setting: Sized {
    /// Reads `v` for option `name` of kind `kind`.
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError>;
    /// This value.
    fn value(&self) -> Value;
}

fn wrong(name: &'static str, kind: &Kind, v: &Value) -> OptionError {
    OptionError::new(
        name,
        format!("expected {}, got {}", kind.describe(), v.kind_name()),
    )
}

fn read_int(name: &'static str, kind: &Kind, v: &Value) -> Result<u64, OptionError> {
    let (min, max) = match *kind {
        Kind::Count { min, max } | Kind::OptCount { min, max } => (min, max),
        _ => (0, u64::MAX),
    };
    let x: i128 = match v {
        Value::Int(x) => *x,
        Value::Text(s) => s.trim().parse().map_err(|_| wrong(name, kind, v))?,
        _ => return Err(wrong(name, kind, v)),
    };
    if x < i128::from(min) || x > i128::from(max) {
        let range = if max == u64::MAX {
            format!("at least {min}")
        } else {
            format!("between {min} and {max}")
        };
        return Err(OptionError::new(name, format!("must be {range}, got {x}")));
    }
    Ok(x as u64)
}

fn read_float(name: &'static str, kind: &Kind, v: &Value) -> Result<f64, OptionError> {
    let (min, max) = match *kind {
        Kind::Number { min, max } | Kind::OptNumber { min, max } => (min, max),
        _ => (f64::MIN, f64::MAX),
    };
    let x = match v {
        Value::Float(x) => *x,
        Value::Int(x) => *x as f64,
        Value::Text(s) => s.trim().parse().map_err(|_| wrong(name, kind, v))?,
        _ => return Err(wrong(name, kind, v)),
    };
    finite(name, x, min, max)?;
    Ok(x)
}

impl Setting for u64 {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        read_int(name, kind, &v)
    }
    fn value(&self) -> Value {
        Value::Int(i128::from(*self))
    }
}

impl Setting for usize {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        let x = read_int(name, kind, &v)?;
        usize::try_from(x).map_err(|_| OptionError::new(name, format!("{x} is too large")))
    }
    fn value(&self) -> Value {
        Value::Int(*self as i128)
    }
}

impl Setting for Option<usize> {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        match v {
            Value::Absent => Ok(None),
            v => usize::read(name, kind, v).map(Some),
        }
    }
    fn value(&self) -> Value {
        self.map_or(Value::Absent, |x| x.value())
    }
}

impl Setting for f64 {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        read_float(name, kind, &v)
    }
    fn value(&self) -> Value {
        Value::Float(*self)
    }
}

impl Setting for Option<f64> {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        match v {
            Value::Absent => Ok(None),
            v => read_float(name, kind, &v).map(Some),
        }
    }
    fn value(&self) -> Value {
        self.map_or(Value::Absent, Value::Float)
    }
}

impl Setting for bool {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Text(ref s) if s == "true" => Ok(true),
            Value::Text(ref s) if s == "false" => Ok(false),
            v => Err(wrong(name, kind, &v)),
        }
    }
    fn value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl Setting for Option<String> {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        match v {
            Value::Absent => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            v => Err(wrong(name, kind, &v)),
        }
    }
    fn value(&self) -> Value {
        self.clone().map_or(Value::Absent, Value::Text)
    }
}

impl Setting for Option<std::path::PathBuf> {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        match v {
            Value::Absent => Ok(None),
            Value::Text(s) => Ok(Some(s.into())),
            v => Err(wrong(name, kind, &v)),
        }
    }
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Absent, |p| {
            Value::Text(p.to_string_lossy().into_owned())
        })
    }
}

impl Setting for Vec<(String, f64)> {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        let pairs = match v {
            Value::Absent => Vec::new(),
            Value::Labels(l) => l,
            Value::Text(t) => parse_labels(&t).map_err(|e| OptionError::new(name, e))?,
            v => return Err(wrong(name, kind, &v)),
        };
        for (label, x) in &pairs {
            if !x.is_finite() {
                return Err(OptionError::new(
                    name,
                    format!("the number of label {label:?} must be finite, got {x}"),
                ));
            }
        }
        Ok(pairs)
    }
    fn value(&self) -> Value {
        if self.is_empty() {
            Value::Absent
        } else {
            Value::Labels(self.clone())
        }
    }
}

impl Setting for Option<(f64, f64)> {
    fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
        let (lo, hi) = match v {
            Value::Absent => return Ok(None),
            Value::Interval(lo, hi) => (lo, hi),
            Value::Text(t) => {
                let (lo, hi) = t.split_once(':').ok_or_else(|| {
                    OptionError::new(name, format!("expected LO:HI (e.g. 0:5), got {t:?}"))
                })?;
                let num = |s: &str| {
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| OptionError::new(name, format!("{s:?} is not a number")))
                };
                (num(lo)?, num(hi)?)
            }
            v => return Err(wrong(name, kind, &v)),
        };
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(OptionError::new(
                name,
                format!("expected finite lo < hi, got {lo}:{hi}"),
            ));
        }
        Ok(Some((lo, hi)))
    }
    fn value(&self) -> Value {
        self.map_or(Value::Absent, |(lo, hi)| Value::Interval(lo, hi))
    }
}

/// Parses labels as numbers: `pass=1,fail=-1` (a label may hold any character but `,`
/// and `=` here; Python passes a dict, which has no such limit).
pub fn parse_labels(text: &str) -> Result<Vec<(String, f64)>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (label, x) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected LABEL=X, got {pair:?}"))?;
            let x: f64 = x
                .trim()
                .parse()
                .map_err(|_| format!("{x:?} is not a number"))?;
            Ok((label.trim().to_string(), x))
        })
        .collect()
}

/// Gives a named-choice enum its [`Setting`] (through its `NAMES`).
macro_rules! choice_setting {
    ($($t:ty),*) => {$(
        impl Setting for $t {
            fn read(name: &'static str, kind: &Kind, v: Value) -> Result<Self, OptionError> {
                match v {
                    Value::Text(s) => s.parse().map_err(|e| OptionError::new(name, e)),
                    v => Err(wrong(name, kind, &v)),
                }
            }
            fn value(&self) -> Value {
                Value::Text(self.name().to_string())
            }
        }
    )*};
}

choice_setting!(
    Players,
    MessageCreditKind,
    Method,
    ControlVariate,
    Provenance,
    Aggregate,
    LinkKind,
    Split,
    FailureReward,
    FirstErrorMethod,
    BackendChoice
);

/// The option table: one row per option. Each row declares the field of [`Settings`]
/// (name, type, default), the row of [`OPTIONS`] (kind and range, one line of docs,
/// where it is taken), and its reading and writing by name. Everything else — the
/// command line's flags and `--help`, Python's keyword arguments and their validation,
/// the options section of the docs — is generated from [`OPTIONS`].
macro_rules! option_table {
    ($(
        $name:ident $(($short:literal))? : $ty:ty = $default:expr, $kind:expr, $doc:literal, [$($use_:ident),*];
    )*) => {
        /// Every option by name, with its default: the values the command line and
        /// Python give, before [`Settings::build`] checks them together and makes the
        /// typed [`RunOptions`].
        #[derive(Debug, Clone, PartialEq)]
        pub struct Settings {
            $(
                #[doc = $doc]
                pub $name: $ty,
            )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $($name: $default,)* }
            }
        }

        /// The option table, in the order `--help` lists it.
        pub const OPTIONS: &[OptionSpec] = &[$(
            OptionSpec {
                name: stringify!($name),
                short: option_table!(@short $($short)?),
                kind: $kind,
                doc: $doc,
                uses: &[$(Use::$use_),*],
            },
        )*];

        impl Settings {
            /// A setting's value by name (`None` for an unknown name).
            pub fn get(&self, name: &str) -> Option<Value> {
                match name {
                    $(stringify!($name) => Some(Setting::value(&self.$name)),)*
                    _ => None,
                }
            }

            /// Sets a setting by name, checking the value against its row's kind and
            /// range; `Ok(false)` for an unknown name.
            pub fn set(&mut self, name: &str, value: Value) -> Result<bool, OptionError> {
                match name {
                    $(stringify!($name) => {
                        self.$name = <$ty as Setting>::read(stringify!($name), &$kind, value)?;
                        Ok(true)
                    })*
                    _ => Ok(false),
                }
            }
        }
    };
    (@short $c:literal) => { Some($c) };
    (@short) => { None };
}

const ANY: (f64, f64) = (f64::MIN, f64::MAX);

option_table! {
    players: Players = Players::Both, Kind::Choice(Players::NAMES),
        "Which credits to compute.", [Score, Verify, PyScore];
    message_credit: MessageCreditKind = MessageCreditKind::Owen, Kind::Choice(MessageCreditKind::NAMES),
        "Message credit: the Owen value (agents as unions) or flat Shapley.", [Score, Verify, PyScore];
    method: Method = Method::Auto, Kind::Choice(Method::NAMES),
        "Estimator (auto picks per record: exact, closed form, sampling; for --budget).", [Score, Verify, PyScore];
    control_variate: ControlVariate = ControlVariate::Auto, Kind::Choice(ControlVariate::NAMES),
        "The surrogate's control variate for sampled jobs of nonlinear models: where it pays, always, or never.", [Score, Verify, PyScore];
    samples: u64 = 1024, Kind::Count { min: 1, max: MAX_SAMPLES },
        "Monte Carlo permutations per record (antithetic pairs: rounded up to even).", [Score, Verify, PyScore];
    target_se: Option<f64> = None, Kind::OptNumber { min: f64::MIN_POSITIVE, max: f64::MAX },
        "Adaptive sampling: stop when every credit's standard error is at most this.", [Score, Verify, PyScore];
    max_samples: u64 = 1 << 16, Kind::Count { min: 1, max: MAX_SAMPLES },
        "Most permutations per record under --target-se.", [Score, Verify, PyScore];
    seed: u64 = 0, Kind::Count { min: 0, max: u64::MAX },
        "Random seed.", [Score, Verify, PyScore];
    budget: u64 = 0, Kind::Count { min: 0, max: u64::MAX },
        "Value evaluations per record, ∅ and N included (shapiq's count), instead of --samples; 0: not given.", [Score, Verify, PyScore];
    provenance: Provenance = Provenance::Prefix, Kind::Choice(Provenance::NAMES),
        "Parents of messages without a `parents` field: every earlier message, the first plus the previous one, or none.", [Score, Verify, PyScore, Import, PyImport];
    threshold: f64 = 0.5, Kind::Number { min: ANY.0, max: ANY.1 },
        "`outcome.success` defaults to reward >= threshold.", [Score, Verify, PyScore];
    alpha: f64 = 0.5, Kind::Number { min: 0.0, max: 1.0 },
        "Self-sufficiency α of a message whose inputs were ablated.", [Score, Verify, PyScore];
    aggregate: Aggregate = Aggregate::Mean, Kind::Choice(Aggregate::NAMES),
        "Aggregate over the parents' presences.", [Score, Verify, PyScore];
    link: LinkKind = LinkKind::Linear, Kind::Choice(LinkKind::NAMES),
        "Link from team quality Q to value v.", [Score, Verify, PyScore];
    kappa: f64 = 10.0, Kind::Number { min: 0.0, max: f64::MAX },
        "Logistic slope κ.", [Score, Verify, PyScore];
    tau: f64 = 0.5, Kind::Number { min: ANY.0, max: ANY.1 },
        "Logistic threshold τ.", [Score, Verify, PyScore];
    cap: f64 = 1.0, Kind::Number { min: ANY.0, max: ANY.1 },
        "Saturating cap.", [Score, Verify, PyScore];
    split: Split = Split::Owen, Kind::Choice(Split::NAMES),
        "Success-branch message rewards: Owen credit or the label split of agent credit.", [Score, Verify, PyScore];
    failure_reward: FailureReward = FailureReward::CreditPlusSchedule, Kind::Choice(FailureReward::NAMES),
        "Failure-branch message rewards: the message credit plus the repair-aware schedule divided by the number of agent messages (credit-plus-schedule), the message credit alone (credit, as on success), or the paper's repair-aware schedule alone (repair-schedule; --eta, --gamma).", [Score, Verify, PyScore];
    rho: f64 = 0.25, Kind::Number { min: 0.0, max: f64::MAX },
        "ρ: the negative share of harmful messages in the label split.", [Score, Verify, PyScore];
    first_error: FirstErrorMethod = FirstErrorMethod::Label, Kind::Choice(FirstErrorMethod::NAMES),
        "How the first error of a failed episode is found.", [Score, Verify, PyScore];
    eta: f64 = 0.5, Kind::Number { min: 0.0, max: f64::MAX },
        "η: reward of a repair attempt after the first error.", [Score, Verify, PyScore];
    gamma: f64 = 0.5, Kind::Number { min: 0.0, max: f64::MAX },
        "γ: penalty of a message that builds on the first error.", [Score, Verify, PyScore];
    pairs: bool = false, Kind::Switch,
        "Build preference pairs (TRL conversational format); the command line writes them with --pairs FILE.", [PyScore];
    strict: bool = false, Kind::Switch,
        "Any bad record stops the run with an error.", [Score, Verify, PyScore];
    chunk: usize = 4096, Kind::Count { min: 1, max: u32::MAX as u64 },
        "Records per chunk (with --chunk-bytes, bounds memory).", [Score, Verify, PyScore];
    chunk_bytes: usize = 64 << 20, Kind::Count { min: 1, max: u64::MAX },
        "Input bytes per chunk (a chunk holds at least one record).", [Score, Verify, PyScore];
    pipeline: usize = 2, Kind::Count { min: 1, max: 16 },
        "Chunks read ahead: reading, planning, estimating and writing run at once on consecutive chunks (1: one after another; up to this + 2 chunks in memory; outputs are identical at every depth).", [Score, Verify, PyScore];
    assume_unique_ids: bool = false, Kind::Switch,
        "Skip the duplicate-id check (about 50 bytes of memory per record) for inputs known to have unique ids.", [Score, Verify, PyScore];
    backend: BackendChoice = BackendChoice::Auto, Kind::Choice(BackendChoice::NAMES),
        "Monte Carlo backend: a hardware GPU when present (auto), the CPU, or any GPU adapter including software ones.", [Score, Verify, PyScore];
    threads('j'): Option<usize> = None, Kind::OptCount { min: 1, max: u64::MAX },
        "Worker threads (default: all cores; at most 4 × the cores).", [Score, Verify, PyScore, PyImport];
    evaluation: Option<String> = None, Kind::Text,
        "Traces: the gen_ai.evaluation.name whose results become message scores (needed when a trace carries several).", [Import, PyImport];
    label_score: Vec<(String, f64)> = Vec::new(), Kind::Labels,
        "Traces: score labels as numbers for evaluations without score.value (e.g. pass=1,fail=-1).", [Import, PyImport];
    score_range: Option<(f64, f64)> = None, Kind::Interval,
        "Traces: rescale message score values from LO:HI onto [-1, 1] (e.g. 0:5).", [Import, PyImport];
    outcome_evaluation: Option<String> = None, Kind::Text,
        "Traces: the evaluation name whose trace-level or root-span result is the episode's reward.", [Import, PyImport];
    outcomes: Option<std::path::PathBuf> = None, Kind::Path,
        "Traces: JSON Lines side file of outcomes, {\"trace\": ID, \"reward\": R, \"baseline\"?: R0, \"success\"?: B}.", [Import, PyImport];
    reward: Option<f64> = None, Kind::OptNumber { min: ANY.0, max: ANY.1 },
        "outcome.reward of every episode (chat logs: default 0; traces: from the status of the top-level spans, 1 or 0).", [Import, PyImport];
    memory: usize = 512, Kind::Count { min: 1, max: 1 << 40 },
        "Traces: MiB of grouped spans (export: of the span index) held in memory before spilling to temporary bucket files.", [Import, PyImport, Export];
}

/// Most worker threads per available core (`--threads`, Python's `threads=`): more only
/// adds scheduling cost, and an unbounded count lets a typo spawn thousands of threads.
pub const THREADS_PER_CORE: usize = 4;

/// The largest thread count allowed on this machine ([`THREADS_PER_CORE`] × its cores).
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    THREADS_PER_CORE * cores
}

impl Settings {
    /// Sets every option of `values` (by name), in order; an unknown name is an error.
    pub fn with(
        mut self,
        values: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<Self, OptionError> {
        for (name, v) in values {
            if !self.set(&name, v)? {
                return Err(OptionError {
                    option: "(option)",
                    message: format!("unknown option {name:?}"),
                });
            }
        }
        Ok(self)
    }

    /// The worker threads asked for, checked against [`max_threads`] (`None`: all cores).
    pub fn threads(&self) -> Result<Option<usize>, OptionError> {
        match self.threads {
            Some(n) if n > max_threads() => Err(OptionError::new(
                "threads",
                format!(
                    "{n} is more than {THREADS_PER_CORE} × the {} cores of this machine ({})",
                    max_threads() / THREADS_PER_CORE,
                    max_threads()
                ),
            )),
            t => Ok(t),
        }
    }

    /// The typed options of scoring, every value checked ([`RunOptions::validate`]).
    pub fn build(&self) -> Result<RunOptions, OptionError> {
        let link = match self.link {
            LinkKind::Linear => Link::Linear,
            LinkKind::Logistic => Link::Logistic {
                kappa: self.kappa,
                tau: self.tau,
            },
            LinkKind::Saturating => Link::Saturating { cap: self.cap },
        };
        // Every row's range, also of values set directly on the struct.
        for spec in OPTIONS {
            let v = self.get(spec.name).expect("every row is a setting");
            let mut probe = Settings::default();
            probe.set(spec.name, v)?;
        }
        self.threads()?;
        let opts = RunOptions {
            score: ScoreOptions {
                model: ModelParams {
                    alpha: self.alpha,
                    aggregate: self.aggregate,
                    link,
                },
                players: self.players,
                message_credit: self.message_credit,
                method: self.method,
                control_variate: self.control_variate,
                sampling: SampleOptions {
                    samples: self.samples,
                    target_se: self.target_se,
                    max_samples: self.max_samples.max(2),
                    seed: self.seed,
                    budget: (self.budget > 0).then_some(self.budget),
                },
                validate: ValidateOptions {
                    provenance: self.provenance,
                    threshold: self.threshold,
                },
                signals: SignalOptions {
                    split: self.split,
                    failure_reward: self.failure_reward,
                    rho: self.rho,
                    first_error: self.first_error,
                    eta: self.eta,
                    gamma: self.gamma,
                    pairs: self.pairs,
                },
            },
            strict: self.strict,
            chunk_records: self.chunk,
            chunk_bytes: self.chunk_bytes,
            unique_ids: self.assume_unique_ids,
            backend: self.backend,
            pipeline: self.pipeline,
        };
        if self.budget > 0 && self.target_se.is_some() {
            return Err(OptionError::new(
                "budget",
                "--budget and --target-se are two ways to size an estimate; give one",
            ));
        }
        opts.validate()?;
        Ok(opts)
    }
}

/// The options section of the docs, generated from [`OPTIONS`]: a Markdown table of
/// every option taken by `use_`.
pub fn options_markdown(use_: Use) -> String {
    let mut out =
        String::from("| option | values | default | what it does |\n| --- | --- | --- | --- |\n");
    for spec in OPTIONS.iter().filter(|s| s.taken_by(use_)) {
        let flag = match spec.short {
            Some(c) => format!("`-{c}`, `{}`", spec.flag()),
            None => format!("`{}`", spec.flag()),
        };
        let default = match spec.default_text() {
            Some(d) if spec.kind != Kind::Switch => format!("`{d}`"),
            _ => "—".into(),
        };
        out.push_str(&format!(
            "| {flag} | {} | {default} | {} |\n",
            spec.kind.describe(),
            spec.doc.replace('|', "\\|")
        ));
    }
    out
}

/// `x` must be finite and in [lo, hi].
fn finite(option: &'static str, x: f64, lo: f64, hi: f64) -> Result<(), OptionError> {
    if x.is_finite() && x >= lo && x <= hi {
        return Ok(());
    }
    let range = match (lo == f64::MIN, hi == f64::MAX) {
        (true, true) => "a finite number".to_string(),
        (false, true) if lo == f64::MIN_POSITIVE => "a finite number > 0".to_string(),
        (false, true) => format!("a finite number ≥ {lo}"),
        _ => format!("a number in [{lo}, {hi}]"),
    };
    Err(OptionError::new(
        option,
        format!("must be {range}, got {x}"),
    ))
}

/// Most permutations per record: pair indices are the 32-bit sample word of the stream.
pub const MAX_SAMPLES: u64 = u32::MAX as u64;

fn count(option: &'static str, x: u64, lo: u64, hi: u64) -> Result<(), OptionError> {
    if (lo..=hi).contains(&x) {
        Ok(())
    } else {
        Err(OptionError::new(
            option,
            format!("must be between {lo} and {hi}, got {x}"),
        ))
    }
}

impl ModelParams {
    /// Checks α ∈ [0, 1] and finite link parameters (κ ≥ 0).
    pub fn validate(&self) -> Result<(), OptionError> {
        finite("alpha", self.alpha, 0.0, 1.0)?;
        match self.link {
            Link::Linear => Ok(()),
            Link::Logistic { kappa, tau } => {
                finite("kappa", kappa, 0.0, f64::MAX)?;
                finite("tau", tau, f64::MIN, f64::MAX)
            }
            Link::Saturating { cap } => finite("cap", cap, f64::MIN, f64::MAX),
        }
    }
}

impl SampleOptions {
    /// Checks 1 ≤ samples ≤ [`MAX_SAMPLES`] (and `max_samples` under `target_se`) and a
    /// positive, finite `target_se`.
    pub fn validate(&self) -> Result<(), OptionError> {
        count("samples", self.samples, 1, MAX_SAMPLES)?;
        count("max_samples", self.max_samples, 1, MAX_SAMPLES)?;
        if let Some(t) = self.target_se {
            finite("target_se", t, f64::MIN_POSITIVE, f64::MAX)?;
        }
        Ok(())
    }
}

impl ValidateOptions {
    /// Checks a finite threshold.
    pub fn validate(&self) -> Result<(), OptionError> {
        finite("threshold", self.threshold, f64::MIN, f64::MAX)
    }
}

impl SignalOptions {
    /// Checks finite, non-negative ρ, η and γ.
    pub fn validate(&self) -> Result<(), OptionError> {
        finite("rho", self.rho, 0.0, f64::MAX)?;
        finite("eta", self.eta, 0.0, f64::MAX)?;
        finite("gamma", self.gamma, 0.0, f64::MAX)
    }
}

impl ScoreOptions {
    /// Checks every value (see each part's `validate`).
    pub fn validate(&self) -> Result<(), OptionError> {
        self.model.validate()?;
        self.sampling.validate()?;
        self.validate.validate()?;
        self.signals.validate()
    }
}

impl RunOptions {
    /// Checks every value, and at least one record per chunk.
    pub fn validate(&self) -> Result<(), OptionError> {
        self.score.validate()?;
        count("chunk", self.chunk_records as u64, 1, u32::MAX as u64)?;
        count("chunk_bytes", self.chunk_bytes as u64, 1, u64::MAX)?;
        count("pipeline", self.pipeline as u64, 1, 16)
    }
}

/// The format of an input or output file (DESIGN §2.4, §6): JSON Lines, or Parquet
/// (feature `parquet`); `auto` decides by the file name (`.parquet` / `.pq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileFormat {
    /// By extension: `.parquet` and `.pq` are Parquet, anything else (and `-`) JSONL.
    #[default]
    Auto,
    /// JSON Lines.
    Jsonl,
    /// Parquet (the §2.4 rows in, the §6 tables out).
    Parquet,
}

names!(FileFormat {
    Auto => "auto",
    Jsonl => "jsonl",
    Parquet => "parquet",
});

impl FileFormat {
    /// The format of `path`: this one, or under `auto` the one its extension names.
    pub fn resolve(self, path: Option<&std::path::Path>) -> FileFormat {
        match self {
            FileFormat::Auto => {
                let ext = path
                    .and_then(|p| p.extension())
                    .map(|e| e.to_string_lossy().to_ascii_lowercase());
                match ext.as_deref() {
                    Some("parquet" | "pq") => FileFormat::Parquet,
                    _ => FileFormat::Jsonl,
                }
            }
            f => f,
        }
    }
}
