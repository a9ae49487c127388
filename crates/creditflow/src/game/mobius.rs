//! Sparse Möbius (sum-of-unanimity) games v(S) = Σ_k c_k·[T_k ⊆ S] (DESIGN §2.2),
//! stored as CSR rows: terms → players and, transposed, players → terms. Growing a
//! coalition keeps one counter per term, so adding a player costs the number of terms
//! that contain it.

use super::Evaluator;

/// A Möbius game in CSR form with its incremental state.
#[derive(Debug, Clone)]
pub struct Mobius {
    n: usize,
    /// Coefficient per term.
    coef: Vec<f64>,
    /// Size per term (distinct players).
    size: Vec<u32>,
    /// Term rows: players of term t are `term_players[term_offsets[t]..term_offsets[t+1]]`.
    term_offsets: Vec<u32>,
    term_players: Vec<u32>,
    /// Transposed rows: terms containing player j.
    player_offsets: Vec<u32>,
    player_terms: Vec<u32>,
    /// Σ of coefficients of empty terms: v(∅).
    constant: f64,
    /// Per term: members not yet in the coalition.
    remaining: Vec<u32>,
    value: f64,
}

impl Mobius {
    /// Builds the game from validated terms (sorted, duplicate-free player sets).
    pub fn new(n: usize, terms: &[(f64, Vec<u32>)]) -> Self {
        let mut coef = Vec::with_capacity(terms.len());
        let mut size = Vec::with_capacity(terms.len());
        let mut term_offsets = vec![0u32];
        let mut term_players = Vec::new();
        let mut degree = vec![0u32; n + 1];
        let mut constant = 0.0;
        for (c, set) in terms {
            if set.is_empty() {
                constant += c;
                continue;
            }
            coef.push(*c);
            size.push(set.len() as u32);
            term_players.extend_from_slice(set);
            term_offsets.push(term_players.len() as u32);
            for &p in set {
                degree[p as usize + 1] += 1;
            }
        }
        for j in 0..n {
            degree[j + 1] += degree[j];
        }
        let player_offsets = degree;
        let mut fill = player_offsets.clone();
        let mut player_terms = vec![0u32; term_players.len()];
        for t in 0..coef.len() {
            for &p in &term_players[term_offsets[t] as usize..term_offsets[t + 1] as usize] {
                player_terms[fill[p as usize] as usize] = t as u32;
                fill[p as usize] += 1;
            }
        }
        let remaining = size.clone();
        Mobius {
            n,
            coef,
            size,
            term_offsets,
            term_players,
            player_offsets,
            player_terms,
            constant,
            remaining,
            value: constant,
        }
    }

    /// Players of term `t`.
    pub fn term(&self, t: usize) -> (f64, &[u32]) {
        (
            self.coef[t],
            &self.term_players[self.term_offsets[t] as usize..self.term_offsets[t + 1] as usize],
        )
    }

    /// Adds `player` and returns the marginal contribution: the sum of the coefficients
    /// of the terms it completes. Cost: the number of terms containing the player.
    #[inline]
    pub fn add_marginal(&mut self, player: usize) -> f64 {
        let mut delta = 0.0;
        let r = self.player_offsets[player] as usize..self.player_offsets[player + 1] as usize;
        for &t in &self.player_terms[r] {
            let t = t as usize;
            self.remaining[t] -= 1;
            if self.remaining[t] == 0 {
                delta += self.coef[t];
            }
        }
        self.value += delta;
        delta
    }

    /// The closed form φ_j = Σ_{T ∋ j} c_T / |T| (exact; O(total term size)).
    pub fn shapley_closed_form(&self) -> Vec<f64> {
        let mut phi = vec![0.0; self.n];
        for t in 0..self.coef.len() {
            let (c, set) = self.term(t);
            let share = c / set.len() as f64;
            for &p in set {
                phi[p as usize] += share;
            }
        }
        phi
    }
}

impl Evaluator for Mobius {
    fn players(&self) -> usize {
        self.n
    }
    fn value_mask(&mut self, mask: u64) -> f64 {
        let mut v = self.constant;
        for t in 0..self.coef.len() {
            let (c, set) = self.term(t);
            if set.iter().all(|&p| mask >> p & 1 == 1) {
                v += c;
            }
        }
        v
    }
    fn init(&mut self) -> f64 {
        self.remaining.copy_from_slice(&self.size);
        self.value = self.constant;
        self.value
    }
    fn add(&mut self, player: usize) -> f64 {
        self.add_marginal(player);
        self.value
    }
}
