//! Explicit table games: `v(S) = table[S]` for every bitmask S (DESIGN §2.2), and the
//! measured `coalition_values` of an episode (DESIGN §3.2).

use super::Evaluator;

/// A game given by its full table of 2^n values.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    n: usize,
    table: &'a [f64],
    mask: u64,
}

impl<'a> Table<'a> {
    /// Wraps a table of length 2^n. Panics if the length is not a power of two.
    pub fn new(table: &'a [f64]) -> Self {
        assert!(table.len().is_power_of_two(), "table length must be 2^n");
        Table {
            n: table.len().trailing_zeros() as usize,
            table,
            mask: 0,
        }
    }
}

impl Evaluator for Table<'_> {
    fn players(&self) -> usize {
        self.n
    }
    fn value_mask(&mut self, mask: u64) -> f64 {
        self.table[mask as usize]
    }
    fn init(&mut self) -> f64 {
        self.mask = 0;
        self.table[0]
    }
    fn add(&mut self, player: usize) -> f64 {
        self.mask |= 1 << player;
        self.table[self.mask as usize]
    }
}
