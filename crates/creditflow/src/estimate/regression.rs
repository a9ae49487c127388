//! Paired, size-stratified regression for black-box games (DESIGN §4, `--method
//! regression --budget B`).
//!
//! **Why the odd part.** Write d(S) = v(S) − v(N∖S). The Shapley value depends only on
//! this odd part of the game: φᵢ = (1/n) Σ_{t=1..n} E[d(T) | i ∈ T, |T| = t], the mean of
//! d over sets containing i, averaged over sizes (the even part v(S) + v(N∖S) has Shapley
//! value 0). So each evaluated pair (T, N∖T) is one equation, and anything even in the
//! game (every pairwise interaction, for instance) costs nothing.
//!
//! **Design.** ∅ and N are evaluated once; the rest of the budget goes to complementary
//! pairs drawn stratum by stratum (stratum k holds the sizes k and n − k), the same
//! number of sets per size, without replacement, and a stratum whose every pair fits in
//! its share is enumerated (the sampling design of LeverageSHAP). Each stratum has its
//! own Philox stream (seed, record, k, [`tag::REGRESSION`]), so the draws do not depend
//! on the budget of the other strata.
//!
//! **Estimate.** Weighted least squares of d on the ±1 indicators yⱼ = 2·[j ∈ T] − 1 with
//! one intercept per stratum (an odd function of the size: whatever v does with the size
//! of a coalition is absorbed exactly, which plain KernelSHAP-style regressions pay for
//! in variance), and row weights 1 / (k (n − k) · rows of the stratum), the Shapley kernel
//! per unit of sampled mass, so that on the whole population the fit is the Shapley value
//! exactly. With coefficients β (Σβ = 0; the intercepts fix the common level) the
//! estimate is φ = β + (d(N) − Σβ)/n: **efficiency holds exactly**, whatever the sample.
//!
//! **Odd interactions, found in the data.** The first odd terms the linear fit cannot
//! express are the three-way characters yᵢyⱼyₖ. A greedy forward selection (orthogonal
//! matching pursuit) screens every triple by its correlation with the residual, adds the
//! best while its t² exceeds a Bonferroni-style threshold (2 ln C(n, 3) + 2), and refits;
//! a selected character with coefficient γ gives γ/3 to each of its three players. No
//! maximum interaction order is assumed: a game with no odd three-way structure selects
//! nothing (or little), and a game that has it is fitted exactly once the budget
//! identifies it. Screening costs C(n, 3) dot products over the rows; past
//! [`SCREEN_WORK`] it screens a regular subsample of rows (the refit uses all).
//!
//! **Standard errors.** A stratified sandwich estimate: the estimate's linearisation
//! Σ_s h_s over rows, with within-stratum variances and the finite-population correction
//! (an enumerated stratum contributes none). Conditional on the selected characters.

use std::collections::HashSet;

use crate::game::Evaluator;
use crate::rng::{Stream, tag};

use super::permutation::{McEstimate, SampleOptions};

/// Multiply-adds the three-way screen may spend per round before it subsamples rows.
pub const SCREEN_WORK: f64 = 3e9;

/// Candidates kept from each screening round for exact scoring.
const SCREEN_KEEP: usize = 48;

/// Most screening rounds (each ends when no kept candidate passes the threshold).
pub const SCREEN_ROUNDS: usize = 16;

/// Most cells (players × sampled pairs) of the design a record may hold: 2^27 f64,
/// 1 GiB.
pub const MAX_CELLS: f64 = (1u64 << 27) as f64;

/// The smallest budget for `n` players: ∅, N and n complementary pairs.
pub fn min_budget(n: usize) -> u64 {
    let all = if n < 63 { 1u64 << n } else { u64::MAX };
    (2 * n as u64 + 2).min(all)
}

/// The budget of a record with `n` players: `--budget`, else the cost of `samples`
/// permutations, samples·(n − 1) + 2.
pub fn budget(opts: &SampleOptions, n: usize) -> u64 {
    opts.budget.unwrap_or_else(|| {
        opts.samples
            .saturating_mul(n.saturating_sub(1) as u64)
            .saturating_add(2)
    })
}

/// An upper bound on the work of one estimate, in evaluation steps: n adds per evaluated
/// pair at `eval` steps each, the fits, and the screen's rounds.
pub fn work(n: usize, budget: u64, eval: f64) -> f64 {
    let pairs = (budget / 2) as f64;
    let n = n as f64;
    let screen = if n >= 3.0 {
        (choose(n as usize, 3) * pairs).min(SCREEN_WORK)
    } else {
        0.0
    };
    pairs * n * eval + pairs * n * n + screen * SCREEN_ROUNDS as f64
}

/// What a regression estimate used besides its values.
#[derive(Debug, Clone)]
pub struct RegressionEstimate {
    /// Shapley values, their standard errors, and `samples` = value evaluations used.
    pub estimate: McEstimate,
    /// Three-way odd characters selected.
    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "read by the tests of the three-way search"))]
    pub interactions: usize,
}

/// A coalition as bit words.
type Bits = Vec<u64>;

fn bit(b: &Bits, i: usize) -> bool {
    b[i / 64] >> (i % 64) & 1 == 1
}

/// C(n, k) as f64 (exact while below 2^53).
fn choose(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Pairs per stratum k = 1..=n/2 (index k − 1) and each stratum's size: the same number
/// of sets per size (the middle stratum of an even n holds one size, so half the pairs),
/// strata that fit enumerated, the rest by largest remainder (ties to smaller k).
pub fn allocate(n: usize, pairs: u64) -> (Vec<u64>, Vec<f64>) {
    let strata = n / 2;
    let cap: Vec<f64> = (1..=strata)
        .map(|k| {
            let c = choose(n, k);
            if 2 * k == n { (c / 2.0).round() } else { c }
        })
        .collect();
    let share: Vec<f64> = (1..=strata)
        .map(|k| if 2 * k == n { 0.5 } else { 1.0 })
        .collect();
    let mut alloc = vec![0u64; strata];
    let mut full = vec![false; strata];
    let mut left = pairs as f64;
    loop {
        let open: Vec<usize> = (0..strata).filter(|&i| !full[i]).collect();
        if open.is_empty() {
            break;
        }
        let per = left / open.iter().map(|&i| share[i]).sum::<f64>();
        let mut filled = false;
        for &i in &open {
            if per * share[i] >= cap[i] {
                alloc[i] = cap[i] as u64;
                full[i] = true;
                left -= cap[i];
                filled = true;
            }
        }
        if !filled {
            let raw: Vec<f64> = open.iter().map(|&i| per * share[i]).collect();
            let mut floor: Vec<u64> = raw.iter().map(|r| r.floor() as u64).collect();
            let given: u64 = floor.iter().sum();
            let mut rest = (left.round() as u64).saturating_sub(given);
            let mut order: Vec<usize> = (0..open.len()).collect();
            order.sort_by(|&a, &b| {
                let (fa, fb) = (raw[a] - raw[a].floor(), raw[b] - raw[b].floor());
                fb.total_cmp(&fa).then(a.cmp(&b))
            });
            for &j in &order {
                if rest == 0 {
                    break;
                }
                if (floor[j] + 1) as f64 <= cap[open[j]] {
                    floor[j] += 1;
                    rest -= 1;
                }
            }
            for (j, &i) in open.iter().enumerate() {
                alloc[i] = floor[j];
            }
            break;
        }
    }
    (alloc, cap)
}

/// The k-subsets of 0..n in lexicographic order (only those containing player 0 when
/// k = n − k, one of each complementary pair), as bit words.
fn enumerate(n: usize, k: usize) -> Vec<Bits> {
    let words = n.div_ceil(64);
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        if 2 * k != n || idx[0] == 0 {
            let mut b = vec![0u64; words];
            for &i in &idx {
                b[i / 64] |= 1 << (i % 64);
            }
            out.push(b);
        }
        // The next combination: bump the rightmost index that can still move.
        let mut i = k;
        while i > 0 && idx[i - 1] == n - k + i - 1 {
            i -= 1;
        }
        if i == 0 {
            return out;
        }
        idx[i - 1] += 1;
        for j in i..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// `count` distinct sets of stratum k, drawn from the stratum's own stream.
fn draw_stratum(n: usize, k: usize, count: u64, cap: f64, stream: &mut Stream) -> Vec<Bits> {
    if count == 0 {
        return Vec::new();
    }
    if count as f64 >= cap || 2.0 * count as f64 >= cap {
        // Enumerate and keep a uniformly random `count` of them (partial Fisher–Yates).
        let mut all = enumerate(n, k);
        let count = (count as usize).min(all.len());
        for i in 0..count {
            let j = i + stream.bounded((all.len() - i) as u32) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let words = n.div_ceil(64);
    let mut perm: Vec<usize> = (0..n).collect();
    let mut seen: HashSet<Bits> = HashSet::with_capacity(count as usize);
    let mut out = Vec::with_capacity(count as usize);
    while (out.len() as u64) < count {
        // A uniform k-subset: the first k of a partial Fisher–Yates.
        for i in 0..k {
            let j = i + stream.bounded((n - i) as u32) as usize;
            perm.swap(i, j);
        }
        let mut b = vec![0u64; words];
        for &p in &perm[..k] {
            b[p / 64] |= 1 << (p % 64);
        }
        if 2 * k == n && !bit(&b, 0) {
            for (w, x) in b.iter_mut().enumerate() {
                let valid = if (w + 1) * 64 <= n {
                    u64::MAX
                } else {
                    (1u64 << (n - w * 64)) - 1
                };
                *x = !*x & valid;
            }
        }
        if seen.insert(b.clone()) {
            out.push(b);
        }
    }
    out
}

/// v of the coalition `b` (or of its complement).
fn value<E: Evaluator>(g: &mut E, n: usize, b: &Bits, complement: bool) -> f64 {
    let mut v = g.init();
    for i in 0..n {
        if bit(b, i) != complement {
            v = g.add(i);
        }
    }
    v
}

/// Cholesky factor of a symmetric positive definite p×p matrix (row-major), in place;
/// a tiny ridge is added to the diagonal when a pivot is not positive.
fn cholesky(a: &mut [f64], p: usize) {
    let scale = (0..p)
        .map(|i| a[i * p + i].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        if d <= 1e-13 * scale {
            d = 1e-13 * scale;
        }
        let d = d.sqrt();
        a[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
    }
}

/// Solves L Lᵀ x = b with the factor from [`cholesky`].
fn chol_solve(l: &[f64], p: usize, b: &mut [f64]) {
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * p + k] * b[k];
        }
        b[i] = s / l[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = b[i];
        for k in i + 1..p {
            s -= l[k * p + i] * b[k];
        }
        b[i] = s / l[i * p + i];
    }
}

#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline]
fn dot32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// The sampled rows: ±1 indicators column by column, d per row, strata and weights.
struct Rows {
    m: usize,
    /// Column j of the ±1 indicators: `y[j * m .. (j + 1) * m]`.
    y: Vec<f64>,
    d: Vec<f64>,
    /// Row ranges of the strata.
    ranges: Vec<std::ops::Range<usize>>,
    /// √weight per row.
    sw: Vec<f64>,
    /// √weight per row in the model with stratum intercepts.
    swc: Vec<f64>,
    /// Rows per sampled unit in each stratum: 2 for the middle stratum's mirrored pairs.
    unit: Vec<usize>,
    /// Finite-population factor (1 − rows / stratum size) per stratum.
    fpc: Vec<f64>,
    /// (Σⱼ yⱼ)/n per row.
    row_mean: Vec<f64>,
}

impl Rows {
    /// √weight of row `s` in the model with or without stratum intercepts.
    fn weight(&self, s: usize, intercepts: bool) -> f64 {
        if intercepts { self.swc[s] } else { self.sw[s] }
    }

    /// The three-way character yᵢyⱼyₖ of row `s`, minus the row's mean indicator (Σⱼ yⱼ)/n:
    /// with efficiency imposed as Σβ + Σγ = d(N), this is the character's column (a
    /// constant within a stratum, so intercepts remove it anyway).
    fn character(&self, t: &[usize; 3], s: usize) -> f64 {
        let m = self.m;
        self.y[t[0] * m + s] * self.y[t[1] * m + s] * self.y[t[2] * m + s] - self.row_mean[s]
    }

    /// `col` (one value per row) × √w, after a within-stratum demeaning when the model has
    /// stratum intercepts (the weights are equal within a stratum).
    fn center(&self, col: &mut [f64], intercepts: bool) {
        if !intercepts {
            for (x, w) in col.iter_mut().zip(&self.sw) {
                *x *= w;
            }
            return;
        }
        for r in &self.ranges {
            let mean = col[r.clone()].iter().sum::<f64>() / r.len() as f64;
            for s in r.clone() {
                col[s] = (col[s] - mean) * self.swc[s];
            }
        }
    }
}

/// The fitted design: centred, weighted columns (n indicators, then the selected
/// characters) and the residual.
struct Fit {
    cols: Vec<Vec<f64>>,
    /// Orthonormal basis of the selected characters' parts orthogonal to the indicators.
    basis: Vec<Vec<f64>>,
    /// Indicators' normal matrix (with the 11ᵀ term), and its Cholesky factor for
    /// residualising.
    normal: Vec<f64>,
    lfac: Vec<f64>,
    resid: Vec<f64>,
    triples: Vec<[usize; 3]>,
}

impl Fit {
    /// The part of centred column `z` orthogonal to the indicators and the basis.
    fn residualize(&self, n: usize, z: &mut [f64]) {
        let mut c: Vec<f64> = (0..n).map(|j| dot(&self.cols[j], z)).collect();
        chol_solve(&self.lfac, n, &mut c);
        for (j, &cj) in c.iter().enumerate() {
            if cj != 0.0 {
                for (x, y) in z.iter_mut().zip(&self.cols[j]) {
                    *x -= cj * y;
                }
            }
        }
        for q in &self.basis {
            let a = dot(q, z);
            for (x, y) in z.iter_mut().zip(q) {
                *x -= a * y;
            }
        }
    }
}

/// Shapley values of `g` from at most `budget` value evaluations (∅ and N included),
/// drawn from the stream (seed, record, stratum, [`tag::REGRESSION`]). `budget` must be at
/// least [`min_budget`]; `g.players()` at least 1.
pub fn shapley<E: Evaluator>(g: &mut E, record: u64, seed: u64, budget: u64) -> RegressionEstimate {
    let n = g.players();
    let v0 = g.init();
    let mut vn = v0;
    for i in 0..n {
        vn = g.add(i);
    }
    let dn = vn - v0;
    if n <= 1 {
        return RegressionEstimate {
            estimate: McEstimate {
                mean: vec![dn; n],
                se: vec![0.0; n],
                samples: 2,
            },
            interactions: 0,
        };
    }
    debug_assert!(budget >= min_budget(n));
    let (alloc, cap) = allocate(n, budget.saturating_sub(2) / 2);

    // Draw and evaluate. A pair of the middle stratum (|T| = |N∖T| = n/2) enters as two
    // rows, (T, d) and (N∖T, −d), each at half weight: the stratum then treats every
    // player alike (with T alone, a canonical side would fix one player's indicator).
    let mut ys: Vec<bool> = Vec::new(); // row-major membership, n per row
    let mut d = Vec::new();
    let mut ranges = Vec::new();
    let mut unit = Vec::new();
    let mut fpc = Vec::new();
    let mut sizes = Vec::new();
    let mut pairs = 0u64;
    for (i, (&count, &c)) in alloc.iter().zip(&cap).enumerate() {
        let k = i + 1;
        let mut stream = Stream::new(seed, record, k as u32, tag::REGRESSION);
        let drawn = draw_stratum(n, k, count, c, &mut stream);
        if drawn.is_empty() {
            continue;
        }
        let mirror = 2 * k == n;
        let start = d.len();
        for b in &drawn {
            let dv = value(g, n, b, false) - value(g, n, b, true);
            ys.extend((0..n).map(|j| bit(b, j)));
            d.push(dv);
            if mirror {
                ys.extend((0..n).map(|j| !bit(b, j)));
                d.push(-dv);
            }
        }
        pairs += drawn.len() as u64;
        ranges.push(start..d.len());
        unit.push(if mirror { 2 } else { 1 });
        fpc.push((1.0 - drawn.len() as f64 / c).max(0.0));
        sizes.push(if mirror { 2.0 * c } else { c });
    }
    let m = d.len();
    let mut y = vec![0.0; n * m];
    let mut sw = vec![0.0; m];
    let mut swc = vec![0.0; m];
    for (r, range) in ranges.iter().enumerate() {
        let k = ys[range.start * n..(range.start + 1) * n]
            .iter()
            .filter(|&&x| x)
            .count();
        let k = k.min(n - k);
        let rows = range.len() as f64;
        let size = sizes[r];
        let mass = if 2 * k == n { 1.0 } else { 2.0 } / (k * (n - k)) as f64;
        // Centred on the sample mean, a sampled stratum's sums of squares estimate the
        // population's (rows − 1)/rows · size/(size − 1) times: undo it (1/rows exactly
        // when the stratum is enumerated), so no stratum's weight is biased.
        let centred = if rows > 1.0 {
            (mass * (size - 1.0) / (size * (rows - 1.0))).sqrt()
        } else {
            0.0
        };
        for s in range.clone() {
            sw[s] = (mass / rows).sqrt();
            swc[s] = centred;
            for j in 0..n {
                y[j * m + s] = if ys[s * n + j] { 1.0 } else { -1.0 };
            }
        }
    }
    drop(ys);
    let evaluations = 2 + 2 * pairs;
    let row_mean = (0..m)
        .map(|s| (0..n).map(|j| y[j * m + s]).sum::<f64>() / n as f64)
        .collect();
    let rows = Rows {
        m,
        y,
        d,
        ranges,
        sw,
        swc,
        unit,
        fpc,
        row_mean,
    };

    // The linear fit, with and without stratum intercepts; BIC picks one (intercepts
    // absorb what v does with coalition size, at the price of one parameter per stratum,
    // which small budgets cannot always afford).
    let plain = linear_fit(&rows, n, dn, false);
    let with = linear_fit(&rows, n, dn, true);
    let mf = m as f64;
    let bic = |f: &Fit, params: usize, intercepts: bool| {
        let total: f64 = (0..m).map(|s| rows.weight(s, intercepts).powi(2)).sum();
        let rss = dot(&f.resid, &f.resid) / total;
        mf * rss.max(f64::MIN_POSITIVE).ln() + params as f64 * mf.ln()
    };
    let strata = rows.ranges.len();
    let informative = rows.swc.iter().any(|&w| w > 0.0);
    let intercepts =
        informative && bic(&with.0, n - 1 + strata, true) <= bic(&plain.0, n - 1, false);
    let (mut fit, dc) = if intercepts { with } else { plain };

    if n >= 3 {
        select_triples(&rows, &mut fit, n, intercepts);
    }

    // The final fit on indicators and selected characters, by normal equations.
    let q = fit.triples.len();
    let p = n + q;
    let mut cols = std::mem::take(&mut fit.cols);
    for t in &fit.triples {
        let mut z: Vec<f64> = (0..m).map(|s| rows.character(t, s)).collect();
        rows.center(&mut z, intercepts);
        cols.push(z);
    }
    // The indicators' block is the linear fit's normal matrix (with its 11ᵀ term).
    let mut a = vec![0.0; p * p];
    for i in 0..n {
        a[i * p..i * p + n].copy_from_slice(&fit.normal[i * n..(i + 1) * n]);
    }
    for i in n..p {
        for j in 0..=i {
            let x = dot(&cols[i], &cols[j]);
            a[i * p + j] = x;
            a[j * p + i] = x;
        }
    }
    cholesky(&mut a, p);
    let mut theta: Vec<f64> = cols.iter().map(|c| dot(c, &dc)).collect();
    chol_solve(&a, p, &mut theta);

    // φ = L θ + d(N)/n with L = [I − 11ᵀ/n | G − 1·1ᵀ/n], G_iT = [i ∈ T]/3.
    let phi_of = |th: &[f64]| -> Vec<f64> {
        let mut phi = th[..n].to_vec();
        for (t, &gam) in fit.triples.iter().zip(&th[n..]) {
            for &i in t {
                phi[i] += gam / 3.0;
            }
        }
        let total: f64 = th.iter().sum();
        for x in phi.iter_mut() {
            *x += (dn - total) / n as f64;
        }
        phi
    };
    let mut mean = phi_of(&theta);
    // Rounding: make Σφ = d(N) exact to the last bit the sum allows.
    let drift = (dn - mean.iter().sum::<f64>()) / n as f64;
    for x in mean.iter_mut() {
        *x += drift;
    }

    // Residual of the final fit, for the sandwich, each divided by 1 − its leverage
    // (HC3: a fitted row's own residual understates its noise; the stratum intercept
    // adds 1/rows to the leverage).
    let mut r = dc.clone();
    for (c, &th) in cols.iter().zip(&theta) {
        for (x, y) in r.iter_mut().zip(c) {
            *x -= th * y;
        }
    }
    let mut x = vec![0.0; p];
    for range in &rows.ranges {
        let own = if intercepts {
            1.0 / range.len() as f64
        } else {
            0.0
        };
        for s in range.clone() {
            for (xj, c) in x.iter_mut().zip(&cols) {
                *xj = c[s];
            }
            for i in 0..p {
                let mut v = x[i];
                for k in 0..i {
                    v -= a[i * p + k] * x[k];
                }
                x[i] = v / a[i * p + i];
            }
            let h = dot(&x, &x) + own;
            r[s] /= (1.0 - h).max(0.05);
        }
    }
    // R = L M⁻¹ (n × p): row i solves M x = Lᵢᵀ.
    let mut rmat = vec![0.0; n * p];
    for i in 0..n {
        let mut li = vec![-1.0 / n as f64; p];
        li[i] += 1.0;
        for (t_ix, t) in fit.triples.iter().enumerate() {
            if t.contains(&i) {
                li[n + t_ix] += 1.0 / 3.0;
            }
        }
        chol_solve(&a, p, &mut li);
        rmat[i * p..(i + 1) * p].copy_from_slice(&li);
    }
    let mut var = vec![0.0; n];
    let mut h = vec![0.0; n];
    let mut gs = vec![0.0; p];
    let mut hu = vec![0.0; n];
    for (k, range) in rows.ranges.iter().enumerate() {
        // Units: a row, or the two rows of a mirrored pair (their terms coincide).
        let unit = rows.unit[k];
        let mk = range.len() / unit;
        if mk < 2 || rows.fpc[k] == 0.0 {
            continue;
        }
        let (mut s1, mut s2) = (vec![0.0; n], vec![0.0; n]);
        for first in range.clone().step_by(unit) {
            hu.fill(0.0);
            for s in first..first + unit {
                for (gj, c) in gs.iter_mut().zip(&cols) {
                    *gj = c[s] * r[s];
                }
                for (i, hi) in h.iter_mut().enumerate() {
                    *hi = dot(&rmat[i * p..(i + 1) * p], &gs);
                }
                for (a, b) in hu.iter_mut().zip(&h) {
                    *a += b;
                }
            }
            for i in 0..n {
                s1[i] += hu[i];
                s2[i] += hu[i] * hu[i];
            }
        }
        let mkf = mk as f64;
        for i in 0..n {
            let ss = (s2[i] - s1[i] * s1[i] / mkf).max(0.0);
            var[i] += rows.fpc[k] * mkf / (mkf - 1.0) * ss;
        }
    }
    RegressionEstimate {
        estimate: McEstimate {
            mean,
            se: var.into_iter().map(f64::sqrt).collect(),
            samples: evaluations,
        },
        interactions: q,
    }
}

/// The fit on the indicators alone: the centred target, the normal matrix + (tr/n)·11ᵀ
/// (the row-centred indicators sum to 0 in every row, so this only pins Σβ = 0), its
/// factor and the residual. The target is d − (d(N)/n)·Σⱼ yⱼ, so that φ = β + d(N)/n.
fn linear_fit(rows: &Rows, n: usize, dn: f64, intercepts: bool) -> (Fit, Vec<f64>) {
    let m = rows.m;
    let cols: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let mut c: Vec<f64> = (0..m)
                .map(|s| rows.y[j * m + s] - rows.row_mean[s])
                .collect();
            rows.center(&mut c, intercepts);
            c
        })
        .collect();
    let mut dc: Vec<f64> = (0..m).map(|s| rows.d[s] - dn * rows.row_mean[s]).collect();
    rows.center(&mut dc, intercepts);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let x = dot(&cols[i], &cols[j]);
            a[i * n + j] = x;
            a[j * n + i] = x;
        }
    }
    let lambda = ((0..n).map(|i| a[i * n + i]).sum::<f64>() / n as f64).max(1e-300);
    for x in a.iter_mut() {
        *x += lambda;
    }
    let normal = a.clone();
    cholesky(&mut a, n);
    let mut fit = Fit {
        cols,
        basis: Vec::new(),
        normal,
        lfac: a,
        resid: Vec::new(),
        triples: Vec::new(),
    };
    let mut resid = dc.clone();
    fit.residualize(n, &mut resid);
    fit.resid = resid;
    (fit, dc)
}

/// Greedy selection of three-way odd characters (see the module docs).
fn select_triples(rows: &Rows, fit: &mut Fit, n: usize, intercepts: bool) {
    let m = rows.m;
    let candidates = choose(n, 3);
    let threshold = 2.0 * candidates.ln() + 2.0;
    let strata = if intercepts { rows.ranges.len() } else { 0 };
    let stride = ((candidates * m as f64 / SCREEN_WORK).ceil() as usize).max(1);
    let screened: Vec<usize> = (0..m).step_by(stride).collect();
    let ms = screened.len();
    // The indicators of the screened rows, column by column (f32: the screen only ranks).
    let ys: Vec<f32> = (0..n)
        .flat_map(|j| screened.iter().map(move |&s| rows.y[j * m + s] as f32))
        .collect();
    let mut chosen: HashSet<[usize; 3]> = HashSet::new();
    for _ in 0..SCREEN_ROUNDS {
        let dof = m as f64 - (n - 1 + strata + fit.triples.len()) as f64;
        if dof < 8.0 || fit.triples.len() + n + strata >= m / 2 {
            return;
        }
        // Screen: T_ijk = Σ_s √w_s r_s y_si y_sj y_sk over the screened rows.
        let a: Vec<f32> = screened
            .iter()
            .map(|&s| (rows.weight(s, intercepts) * fit.resid[s]) as f32)
            .collect();
        // The row-mean part of every candidate's column, the same for all.
        let offset: f64 = screened
            .iter()
            .map(|&s| rows.weight(s, intercepts) * fit.resid[s] * rows.row_mean[s])
            .sum();
        let mut top: Vec<(f64, [usize; 3])> = Vec::with_capacity(SCREEN_KEEP + 1);
        let mut floor = 0.0;
        let mut ui = vec![0.0f32; ms];
        let mut uij = vec![0.0f32; ms];
        for i in 0..n {
            for (u, (x, y)) in ui.iter_mut().zip(a.iter().zip(&ys[i * ms..(i + 1) * ms])) {
                *u = x * y;
            }
            for j in i + 1..n {
                for (u, (x, y)) in uij.iter_mut().zip(ui.iter().zip(&ys[j * ms..(j + 1) * ms])) {
                    *u = x * y;
                }
                for k in j + 1..n {
                    let t = (dot32(&uij, &ys[k * ms..(k + 1) * ms]) as f64 - offset).abs();
                    if t > floor || top.len() < SCREEN_KEEP {
                        if chosen.contains(&[i, j, k]) {
                            continue;
                        }
                        top.push((t, [i, j, k]));
                        if top.len() > SCREEN_KEEP {
                            let (worst, _) = top
                                .iter()
                                .enumerate()
                                .min_by(|x, y| x.1.0.total_cmp(&y.1.0))
                                .unwrap();
                            top.swap_remove(worst);
                        }
                        if top.len() == SCREEN_KEEP {
                            floor = top.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
                        }
                    }
                }
            }
        }
        // Exact scores of the kept candidates against the current fit.
        let mut cand: Vec<([usize; 3], Vec<f64>)> = top
            .into_iter()
            .map(|(_, t)| {
                let mut z: Vec<f64> = (0..m).map(|s| rows.character(&t, s)).collect();
                rows.center(&mut z, intercepts);
                fit.residualize(n, &mut z);
                (t, z)
            })
            .collect();
        let mut added = 0;
        loop {
            let dof = m as f64 - (n - 1 + strata + fit.triples.len()) as f64;
            if dof < 8.0 || fit.triples.len() + n + strata >= m / 2 {
                break;
            }
            let s2 = dot(&fit.resid, &fit.resid) / dof;
            if s2.is_nan() || s2 <= 0.0 {
                break;
            }
            let mut best: Option<(usize, f64)> = None;
            for (c, (_, z)) in cand.iter().enumerate() {
                let nz = dot(z, z);
                if nz <= 1e-12 * m as f64 * f64::EPSILON.sqrt() {
                    continue;
                }
                let t2 = dot(z, &fit.resid).powi(2) / (nz * s2);
                if best.is_none_or(|(_, b)| t2 > b) {
                    best = Some((c, t2));
                }
            }
            let Some((c, t2)) = best else { break };
            if t2 < threshold {
                break;
            }
            let (t, mut z) = cand.swap_remove(c);
            let norm = dot(&z, &z).sqrt();
            for x in z.iter_mut() {
                *x /= norm;
            }
            let coef = dot(&z, &fit.resid);
            for (x, q) in fit.resid.iter_mut().zip(&z) {
                *x -= coef * q;
            }
            for (_, other) in cand.iter_mut() {
                let a = dot(&z, other);
                for (x, q) in other.iter_mut().zip(&z) {
                    *x -= a * q;
                }
            }
            fit.basis.push(z);
            fit.triples.push(t);
            chosen.insert(t);
            added += 1;
        }
        if added == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumeration_counts() {
        for n in 2..9 {
            for k in 1..=n / 2 {
                let all = enumerate(n, k);
                let want = if 2 * k == n {
                    choose(n, k) / 2.0
                } else {
                    choose(n, k)
                };
                assert_eq!(all.len() as f64, want, "n={n} k={k}");
                let distinct: HashSet<_> = all.iter().collect();
                assert_eq!(distinct.len(), all.len());
                for b in &all {
                    assert_eq!(b.iter().map(|w| w.count_ones()).sum::<u32>() as usize, k);
                }
            }
        }
    }

    #[test]
    fn allocation_spends_the_pairs_and_respects_sizes() {
        for (n, pairs) in [(16, 159), (16, 40), (7, 63), (32, 1000), (128, 31999)] {
            let (alloc, cap) = allocate(n, pairs);
            let total: u64 = alloc.iter().sum();
            let space: f64 = cap.iter().sum();
            assert_eq!(
                total as f64,
                (pairs as f64).min(space),
                "n={n} pairs={pairs}"
            );
            for (a, c) in alloc.iter().zip(&cap) {
                assert!(*a as f64 <= *c);
            }
        }
        // Everything fits: every stratum enumerated.
        let (alloc, cap) = allocate(10, 1 << 10);
        for (a, c) in alloc.iter().zip(&cap) {
            assert_eq!(*a as f64, *c);
        }
    }

    #[test]
    fn drawn_sets_are_distinct_with_the_right_size() {
        let mut s = Stream::new(1, 2, 3, tag::REGRESSION);
        let sets = draw_stratum(20, 10, 300, choose(20, 10) / 2.0, &mut s);
        assert_eq!(sets.len(), 300);
        let distinct: HashSet<_> = sets.iter().collect();
        assert_eq!(distinct.len(), 300);
        for b in &sets {
            assert!(
                bit(b, 0),
                "middle stratum sets are canonical (contain player 0)"
            );
            assert_eq!(b[0].count_ones(), 10);
        }
    }

    #[test]
    fn cholesky_solves() {
        let mut a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let orig = a.clone();
        cholesky(&mut a, 3);
        let mut x = vec![1.0, 2.0, 3.0];
        chol_solve(&a, 3, &mut x);
        for i in 0..3 {
            let s: f64 = (0..3).map(|j| orig[i * 3 + j] * x[j]).sum();
            assert!((s - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
    }
}
