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

/// Options of the training signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalOptions {
    /// Success-branch split.
    pub split: Split,
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

/// Every option of `creditflow score` by its command-line name (dashes as underscores:
/// the Python keyword arguments), with the command line's defaults. [`Settings::build`]
/// checks every value and gives the typed [`RunOptions`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `--players`.
    pub players: Players,
    /// `--message-credit`.
    pub message_credit: MessageCreditKind,
    /// `--method`.
    pub method: Method,
    /// `--control-variate`.
    pub control_variate: ControlVariate,
    /// `--samples`: permutations per record, 1 ..= 2³²−1.
    pub samples: u64,
    /// `--target-se`: positive and finite when given.
    pub target_se: Option<f64>,
    /// `--max-samples`: 1 ..= 2³²−1 (raised to 2, one antithetic pair).
    pub max_samples: u64,
    /// `--seed`.
    pub seed: u64,
    /// `--budget`: value evaluations per record for `--method regression` (0: not given).
    pub budget: u64,
    /// `--provenance`.
    pub provenance: Provenance,
    /// `--threshold`: finite.
    pub threshold: f64,
    /// `--alpha`: in [0, 1].
    pub alpha: f64,
    /// `--aggregate`.
    pub aggregate: Aggregate,
    /// `--link`.
    pub link: LinkKind,
    /// `--kappa`: finite, ≥ 0.
    pub kappa: f64,
    /// `--tau`: finite.
    pub tau: f64,
    /// `--cap`: finite.
    pub cap: f64,
    /// `--split`.
    pub split: Split,
    /// `--rho`: finite, ≥ 0.
    pub rho: f64,
    /// `--first-error`.
    pub first_error: FirstErrorMethod,
    /// `--eta`: finite, ≥ 0.
    pub eta: f64,
    /// `--gamma`: finite, ≥ 0.
    pub gamma: f64,
    /// Build preference pairs (`--pairs FILE` given).
    pub pairs: bool,
    /// `--strict`.
    pub strict: bool,
    /// `--chunk`: records per chunk, ≥ 1.
    pub chunk: usize,
    /// `--chunk-bytes`: input bytes per chunk, ≥ 1.
    pub chunk_bytes: usize,
    /// `--assume-unique-ids`: skip the duplicate-id check.
    pub unique_ids: bool,
    /// `--backend`.
    pub backend: BackendChoice,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            players: Players::Both,
            message_credit: MessageCreditKind::Owen,
            method: Method::Auto,
            control_variate: ControlVariate::Auto,
            samples: 1024,
            target_se: None,
            max_samples: 1 << 16,
            seed: 0,
            budget: 0,
            provenance: Provenance::Prefix,
            threshold: 0.5,
            alpha: 0.5,
            aggregate: Aggregate::Mean,
            link: LinkKind::Linear,
            kappa: 10.0,
            tau: 0.5,
            cap: 1.0,
            split: Split::Owen,
            rho: 0.25,
            first_error: FirstErrorMethod::Label,
            eta: 0.5,
            gamma: 0.5,
            pairs: false,
            strict: false,
            chunk: 4096,
            chunk_bytes: 64 << 20,
            unique_ids: false,
            backend: BackendChoice::Auto,
        }
    }
}

/// One setting's value, typed as the command line and Python give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingValue<'a> {
    /// A named choice (`players`, `method`, …): one of its type's `NAMES`.
    Choice(&'a str),
    /// A count (`samples`, `seed`, `chunk`, …).
    Int(u64),
    /// A number.
    Float(f64),
    /// A number that may be absent (`target_se`).
    OptFloat(Option<f64>),
    /// A switch (`strict`, `pairs`, `assume_unique_ids`).
    Bool(bool),
}

/// A named choice set from text: the name, or an error listing the names.
fn choose<T: std::str::FromStr<Err = String>>(
    option: &'static str,
    v: SettingValue<'_>,
) -> Result<T, OptionError> {
    match v {
        SettingValue::Choice(s) => s.parse().map_err(|e| OptionError::new(option, e)),
        other => Err(OptionError::new(
            option,
            format!("expected a name, got {other:?}"),
        )),
    }
}

macro_rules! settings_table {
    ($($name:literal => $field:ident : $kind:ident),+ $(,)?) => {
        impl Settings {
            /// Every setting's name, in the command line's order (dashes as
            /// underscores): the one list the Python keyword arguments come from.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// A setting's value by name (`None` for an unknown name).
            pub fn get(&self, name: &str) -> Option<SettingValue<'static>> {
                match name {
                    $($name => Some(settings_table!(@get self, $field, $kind)),)+
                    _ => None,
                }
            }

            /// Sets a setting by name; a value of the wrong kind or an unknown choice
            /// is an error naming the option (ranges are checked by
            /// [`Settings::build`]). `Ok(false)` for an unknown name.
            pub fn set(&mut self, name: &str, value: SettingValue<'_>) -> Result<bool, OptionError> {
                match name {
                    $($name => { settings_table!(@set self, $name, $field, $kind, value); Ok(true) })+
                    _ => Ok(false),
                }
            }
        }
    };
    (@get $s:ident, $f:ident, choice) => { SettingValue::Choice($s.$f.name()) };
    (@get $s:ident, $f:ident, int) => { SettingValue::Int($s.$f) };
    (@get $s:ident, $f:ident, size) => { SettingValue::Int($s.$f as u64) };
    (@get $s:ident, $f:ident, float) => { SettingValue::Float($s.$f) };
    (@get $s:ident, $f:ident, opt_float) => { SettingValue::OptFloat($s.$f) };
    (@get $s:ident, $f:ident, bool) => { SettingValue::Bool($s.$f) };
    (@set $s:ident, $n:literal, $f:ident, choice, $v:ident) => { $s.$f = choose($n, $v)? };
    (@set $s:ident, $n:literal, $f:ident, int, $v:ident) => {
        $s.$f = match $v {
            SettingValue::Int(x) => x,
            other => return Err(OptionError::new($n, format!("expected a non-negative integer, got {other:?}"))),
        }
    };
    (@set $s:ident, $n:literal, $f:ident, size, $v:ident) => {
        $s.$f = match $v {
            SettingValue::Int(x) => usize::try_from(x)
                .map_err(|_| OptionError::new($n, format!("{x} is too large")))?,
            other => return Err(OptionError::new($n, format!("expected a non-negative integer, got {other:?}"))),
        }
    };
    (@set $s:ident, $n:literal, $f:ident, float, $v:ident) => {
        $s.$f = match $v {
            SettingValue::Float(x) => x,
            SettingValue::Int(x) => x as f64,
            other => return Err(OptionError::new($n, format!("expected a number, got {other:?}"))),
        }
    };
    (@set $s:ident, $n:literal, $f:ident, opt_float, $v:ident) => {
        $s.$f = match $v {
            SettingValue::OptFloat(x) => x,
            SettingValue::Float(x) => Some(x),
            SettingValue::Int(x) => Some(x as f64),
            other => return Err(OptionError::new($n, format!("expected a number or None, got {other:?}"))),
        }
    };
    (@set $s:ident, $n:literal, $f:ident, bool, $v:ident) => {
        $s.$f = match $v {
            SettingValue::Bool(x) => x,
            other => return Err(OptionError::new($n, format!("expected a boolean, got {other:?}"))),
        }
    };
}

settings_table! {
    "players" => players: choice,
    "message_credit" => message_credit: choice,
    "method" => method: choice,
    "control_variate" => control_variate: choice,
    "samples" => samples: int,
    "target_se" => target_se: opt_float,
    "max_samples" => max_samples: int,
    "seed" => seed: int,
    "budget" => budget: int,
    "provenance" => provenance: choice,
    "threshold" => threshold: float,
    "alpha" => alpha: float,
    "aggregate" => aggregate: choice,
    "link" => link: choice,
    "kappa" => kappa: float,
    "tau" => tau: float,
    "cap" => cap: float,
    "split" => split: choice,
    "rho" => rho: float,
    "first_error" => first_error: choice,
    "eta" => eta: float,
    "gamma" => gamma: float,
    "pairs" => pairs: bool,
    "strict" => strict: bool,
    "chunk" => chunk: size,
    "chunk_bytes" => chunk_bytes: size,
    "assume_unique_ids" => unique_ids: bool,
    "backend" => backend: choice,
}

impl Settings {
    /// The typed options, every value checked ([`RunOptions::validate`]).
    pub fn build(&self) -> Result<RunOptions, OptionError> {
        let link = match self.link {
            LinkKind::Linear => Link::Linear,
            LinkKind::Logistic => Link::Logistic {
                kappa: self.kappa,
                tau: self.tau,
            },
            LinkKind::Saturating => Link::Saturating { cap: self.cap },
        };
        // The parameters of the links not chosen are still options the user gave.
        finite("kappa", self.kappa, 0.0, f64::MAX)?;
        finite("tau", self.tau, f64::MIN, f64::MAX)?;
        finite("cap", self.cap, f64::MIN, f64::MAX)?;
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
            unique_ids: self.unique_ids,
            backend: self.backend,
        };
        if self.max_samples == 0 {
            return Err(OptionError::new("max_samples", "must be at least 1, got 0"));
        }
        if self.budget > 0 && self.method != Method::Regression {
            return Err(OptionError::new(
                "budget",
                format!(
                    "sizes --method regression (value evaluations per record); --method {} is sized by --samples (P permutations cost P·(n − 1) + 2 evaluations)",
                    self.method.name()
                ),
            ));
        }
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
        count("chunk_bytes", self.chunk_bytes as u64, 1, u64::MAX)
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
