//! Helpers shared by the integration tests: episodes from JSON or from the generator,
//! flattened into a CSR batch.
#![allow(dead_code)]

use crate::csr::CsrBatch;
use crate::generate::{GenOptions, Topology, episode};
use crate::io::jsonl::parse_and_validate;
use crate::model::{Episode, Record};
use crate::validate::{ValidateOptions, validate};

pub fn parse_episode(json: &str) -> Episode {
    match parse_and_validate(json, 1, &ValidateOptions::default()).expect("valid episode") {
        Record::Episode(e) => e,
        Record::Game(_) => panic!("expected an episode"),
    }
}

pub fn generated(
    topology: Topology,
    agents: u32,
    messages: u32,
    groups: f64,
    seed: u64,
    n: u64,
) -> Vec<Episode> {
    let opts = GenOptions {
        episodes: n,
        agents,
        messages,
        topology,
        groups,
        saboteurs: 0.3,
        seed,
    };
    (0..n)
        .map(
            |i| match validate(episode(&opts, i), i + 1, &ValidateOptions::default()).unwrap() {
                Record::Episode(e) => e,
                Record::Game(_) => unreachable!(),
            },
        )
        .collect()
}

pub fn batch(eps: &[Episode]) -> CsrBatch {
    CsrBatch::from_episodes(eps).expect("fits u32")
}

pub const TOPOLOGIES: [Topology; 4] = [
    Topology::Chain,
    Topology::Star,
    Topology::Prefix,
    Topology::Dag,
];

pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())),
        "{what}: {a} vs {b}"
    );
}
