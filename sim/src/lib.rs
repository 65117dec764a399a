//! `agora-sim`: a seeded, reproducible economic simulation of Agora's compute market.
//! Requesters and providers (see `agents`) trade five task types (`catalog`) through the
//! SDK's `Chain` interface, against the in-process test chain or a running devnet
//! (`driver`); what the contract did is read back into records (`records`) and turned into
//! the report's figures by pure functions (`metrics`) and into SVG plots (`plots`).
//! docs/simulation.md defines every figure.

pub mod agents;
pub mod catalog;
pub mod chainview;
pub mod driver;
pub mod metrics;
pub mod payload;
pub mod plots;
pub mod records;
pub mod rng;

use agora_sdk::TestChain;
use serde::Serialize;

pub use driver::{run, Progress};
pub use metrics::{report, Report};
pub use records::Outcome;

/// Block time per round: each round is one block.
pub const ROUND_MS: u64 = 30_000;

/// What a run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SimConfig {
    pub seed: u64,
    /// Rounds in which requesters post; the run then drains until everything settled.
    pub rounds: u32,
    pub requesters: u32,
    pub providers: u32,
    /// Most rounds to drain after posting stops.
    pub drain_rounds_max: u32,
    /// Mixed into agent keys with the seed: 0 on the test chain; against a node the
    /// starting height, so a second run against the same node gets fresh accounts.
    pub salt: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 1,
            rounds: 240,
            requesters: 12,
            providers: 24,
            drain_rounds_max: 240,
            salt: 0,
        }
    }
}

/// A run on a fresh in-process test chain (the devnet's genesis, blocks on demand).
pub async fn run_on_test_chain(
    config: SimConfig,
    on_round: impl FnMut(Progress),
) -> anyhow::Result<Outcome> {
    let chain = TestChain::devnet().manual(true);
    run(&chain, config, on_round).await
}
