//! The environment: n agents write messages in turn into a shared transcript, each
//! message one action of a small vocabulary; an evaluator scores the finished
//! transcript, a noisy judge scores each message, and coalition values come from
//! re-running the episode with agents ablated.
//!
//! **Roles** (by agent index i): i mod 3 = 0 is a *worker* that owns needed piece i/3;
//! i mod 3 = 1 is a *backup* that can supply the same piece as the worker before it
//! (redundant with it); i mod 3 = 2 is *tempted*: it owns no piece and its policy starts
//! biased towards sabotage. The task needs K = ⌈n/3⌉ pieces.
//!
//! **Actions.** `contribute` supplies the agent's piece (nothing for a tempted agent);
//! `echo` repeats the previous message; `sabotage` opens a defect; `repair` closes the
//! earliest open defect (nothing when none is open); `pass` does nothing.
//!
//! **Outcome.** R = (pieces present / K) · 2^(−open defects): graded, 1 only when every
//! piece appears and every sabotage was repaired after it; success iff R = 1.
//!
//! **Provenance.** Message 0 is the task (no agent). A contribution, a sabotage, a pass
//! and a repair with nothing to fix point at the task; an echo points at the previous
//! message; a repair points at the sabotage it closes.
//!
//! **Reruns.** An episode is a pure function of the policy and one uniform number per
//! turn (the environment's random state): an agent samples its action by inverting its
//! policy's distribution at that turn's number. v(S) re-runs the episode with the same
//! numbers while agents outside S pass; the others still act on what they now see.

/// Number of actions.
pub const ACTIONS: usize = 5;
/// Action names, in index order.
pub const ACTION_NAMES: [&str; ACTIONS] = ["contribute", "echo", "sabotage", "repair", "pass"];
/// `contribute`.
pub const CONTRIBUTE: usize = 0;
/// `echo`.
pub const ECHO: usize = 1;
/// `sabotage`.
pub const SABOTAGE: usize = 2;
/// `repair`.
pub const REPAIR: usize = 3;
/// `pass`.
pub const PASS: usize = 4;

/// SplitMix64: a small seeded generator (the example's only source of randomness).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for the stream named by `keys`.
    pub fn new(keys: &[u64]) -> Rng {
        let mut r = Rng(0x5EED_0FC4_ED17);
        for &k in keys {
            r.0 ^= k;
            r.0 = r.next_u64();
        }
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// An agent's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Owns a needed piece.
    Worker(usize),
    /// Can supply the same piece as a worker.
    Backup(usize),
    /// Owns nothing; starts biased towards sabotage.
    Tempted,
}

impl Role {
    /// The piece this role can supply.
    pub fn piece(self) -> Option<usize> {
        match self {
            Role::Worker(p) | Role::Backup(p) => Some(p),
            Role::Tempted => None,
        }
    }
}

/// What a policy sees at its turn, as a state index in `0..env.states()`: whether its
/// own piece is still missing, whether a defect is open, and the round.
pub fn state(own_missing: bool, open_defect: bool, round: usize) -> usize {
    usize::from(own_missing) | usize::from(open_defect) << 1 | round << 2
}

/// Action probabilities per agent and state: `probs[agent][state]`.
pub type Probs = Vec<Vec<[f64; ACTIONS]>>;

/// One message of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Author.
    pub agent: usize,
    /// The state the author saw.
    pub state: usize,
    /// The action taken.
    pub action: usize,
    /// Parent message indices (0 = the task message; agent messages are 1-based).
    pub parents: Vec<usize>,
    /// True helpfulness in {−1, 0, 1} (what a perfect judge would say).
    pub truth: f64,
}

/// A played episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// One step per turn, in order.
    pub steps: Vec<Step>,
    /// The evaluator's score R.
    pub reward: f64,
    /// R = 1.
    pub success: bool,
}

/// The task: team size, rounds and roles.
#[derive(Debug, Clone)]
pub struct Env {
    /// Agents.
    pub n: usize,
    /// Rounds (each agent speaks once per round, in index order).
    pub rounds: usize,
    /// Needed pieces K.
    pub pieces: usize,
    /// Role per agent.
    pub roles: Vec<Role>,
}

/// The running state of an episode.
struct Board {
    present: u64,
    open: Vec<usize>,
    head: usize,
}

impl Board {
    fn new() -> Board {
        Board {
            present: 0,
            open: Vec::new(),
            head: 0,
        }
    }
    fn open_defects(&self) -> usize {
        self.open.len() - self.head
    }
}

impl Env {
    /// The task for `n` agents over `rounds` rounds.
    pub fn new(n: usize, rounds: usize) -> Env {
        assert!((1..=20).contains(&n), "1 to 20 agents");
        let roles = (0..n)
            .map(|i| match i % 3 {
                0 => Role::Worker(i / 3),
                1 => Role::Backup(i / 3),
                _ => Role::Tempted,
            })
            .collect();
        Env {
            n,
            rounds,
            pieces: n.div_ceil(3),
            roles,
        }
    }

    /// Turns per episode.
    pub fn turns(&self) -> usize {
        self.n * self.rounds
    }

    /// Policy states per agent.
    pub fn states(&self) -> usize {
        4 * self.rounds
    }

    fn score(&self, b: &Board) -> f64 {
        let have = b.present.count_ones() as f64 / self.pieces as f64;
        have * 0.5f64.powi(b.open_defects() as i32)
    }

    /// Samples an action from `p` at uniform `u` (inverse distribution function).
    fn sample(p: &[f64; ACTIONS], u: f64) -> usize {
        let mut acc = 0.0;
        for (a, &x) in p.iter().enumerate() {
            acc += x;
            if u < acc {
                return a;
            }
        }
        ACTIONS - 1
    }

    /// One turn: the agent of turn `t` acts (or passes when `ablated`); appends its
    /// step when `steps` is given.
    fn turn(
        &self,
        b: &mut Board,
        probs: &Probs,
        u: f64,
        t: usize,
        ablated: bool,
        steps: Option<&mut Vec<Step>>,
    ) {
        let agent = t % self.n;
        let round = t / self.n;
        let role = self.roles[agent];
        let missing = role.piece().is_some_and(|p| b.present & (1 << p) == 0);
        let s = state(missing, b.open_defects() > 0, round);
        let action = if ablated {
            PASS
        } else {
            Env::sample(&probs[agent][s], u)
        };
        // The message's own index: the task is message 0.
        let m = t + 1;
        let (parents, truth) = match action {
            CONTRIBUTE => match role.piece() {
                Some(p) => {
                    let new = b.present & (1 << p) == 0;
                    b.present |= 1 << p;
                    (vec![0], if new { 1.0 } else { 0.0 })
                }
                None => (vec![0], 0.0),
            },
            ECHO => (vec![m - 1], 0.0),
            SABOTAGE => {
                b.open.push(m);
                (vec![0], -1.0)
            }
            REPAIR => {
                if b.open_defects() > 0 {
                    let fixed = b.open[b.head];
                    b.head += 1;
                    (vec![fixed], 1.0)
                } else {
                    (vec![0], 0.0)
                }
            }
            _ => (vec![0], 0.0),
        };
        if let Some(steps) = steps {
            steps.push(Step {
                agent,
                state: s,
                action,
                parents,
                truth,
            });
        }
    }

    /// Plays an episode with every agent present.
    pub fn play(&self, probs: &Probs, u: &[f64]) -> Transcript {
        let mut b = Board::new();
        let mut steps = Vec::with_capacity(self.turns());
        for (t, &ut) in u.iter().enumerate().take(self.turns()) {
            self.turn(&mut b, probs, ut, t, false, Some(&mut steps));
        }
        let reward = self.score(&b);
        Transcript {
            steps,
            reward,
            success: reward >= 1.0,
        }
    }

    /// v(S): R of the episode re-run with the same numbers `u`, agents outside `mask`
    /// passing.
    pub fn value(&self, probs: &Probs, u: &[f64], mask: u64) -> f64 {
        let mut b = Board::new();
        for (t, &ut) in u.iter().enumerate().take(self.turns()) {
            let ablated = mask & (1 << (t % self.n)) == 0;
            self.turn(&mut b, probs, ut, t, ablated, None);
        }
        self.score(&b)
    }

    /// Every v(S), indexed by bitmask over agents (2^n reruns).
    pub fn coalition_values(&self, probs: &Probs, u: &[f64]) -> Vec<f64> {
        (0..1u64 << self.n)
            .map(|mask| self.value(probs, u, mask))
            .collect()
    }

    /// Each message's true counterfactual contribution: R − R(that turn alone a `pass`,
    /// later agents reacting to what they now see), one rerun per turn.
    pub fn counterfactual(&self, probs: &Probs, u: &[f64], reward: f64) -> Vec<f64> {
        (0..self.turns())
            .map(|m| {
                let mut b = Board::new();
                for (t, &ut) in u.iter().enumerate().take(self.turns()) {
                    self.turn(&mut b, probs, ut, t, t == m, None);
                }
                reward - self.score(&b)
            })
            .collect()
    }

    /// Difference rewards R − R(without agent i), one rerun per agent.
    pub fn difference_rewards(&self, probs: &Probs, u: &[f64], reward: f64) -> Vec<f64> {
        let all = (1u64 << self.n) - 1;
        (0..self.n)
            .map(|i| reward - self.value(probs, u, all & !(1 << i)))
            .collect()
    }
}

/// The judge: each message's true helpfulness plus Gaussian noise of standard deviation
/// `sigma`, clipped to [−1, 1].
#[cfg(test)]
pub fn judge(tr: &Transcript, sigma: f64, rng: &mut Rng) -> Vec<f64> {
    tr.steps
        .iter()
        .map(|s| (s.truth + sigma * rng.normal()).clamp(-1.0, 1.0))
        .collect()
}
