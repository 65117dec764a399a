//! The simulated population and its behaviour rules: providers (capabilities, cost
//! efficiency, reliability, speed, quality, pricing habit, capacity), requesters (demand,
//! valuation, adaptive bids) and arbitrators, all drawn from the seeded stream. The rules
//! here are the agents' intentions; what actually happened is read back from the chain.

use agora_contract::amount::BPS_DENOMINATOR;
use agora_contract::ids::{sha256, AccountId};
use agora_contract::market::{multiplier_bps, settlement_price};
use agora_contract::Amount;
use agora_sdk::Keypair;
use serde::Serialize;

use crate::catalog::{can_serve, CAPABILITIES, CAPABILITY_ODDS, TASK_TYPES};
use crate::rng::SimRng;
use crate::{SimConfig, ROUND_MS};

/// How a provider turns its target price into an ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Pricing {
    /// Divides the target by its reputation multiplier, so the price lands on the target,
    /// and refuses work paid below its true cost (except while building reputation).
    Aware,
    /// Asks its target and lets the contract apply the multiplier, whatever it pays.
    Naive,
}

/// Below this score an aware provider still takes work paid at 60 % of its cost, to
/// build the reputation that lifts its multiplier to 1.0×.
pub const INVESTMENT_SCORE: u16 = 100;
/// The share of true cost an investing provider accepts.
pub const INVESTMENT_FLOOR: f64 = 0.6;

/// A compute provider.
#[derive(Clone, Debug)]
pub struct ProviderAgent {
    pub key: Keypair,
    pub account: AccountId,
    /// Sorted, from [`CAPABILITIES`].
    pub capabilities: Vec<&'static str>,
    /// Indices into [`TASK_TYPES`] it can serve.
    pub serves: Vec<usize>,
    /// Multiplies every task type's base cost: its true cost per unit.
    pub efficiency: f64,
    /// Chance an assignment goes as planned; lapses are late starts, late finishes,
    /// low quality and no-shows.
    pub reliability: f64,
    /// Work speed relative to the catalog's unit times.
    pub speed: f64,
    /// Mean delivered quality, 0..1.
    pub quality: f64,
    /// Chance per round that it looks at each open request it could take.
    pub attentiveness: f64,
    /// Units it works on at once.
    pub capacity_units: u64,
    pub pricing: Pricing,
    /// The task type it keeps a resting offer for, if it is an offer maker.
    pub offer_type: Option<usize>,
    /// Markup over true cost it aims for; moves with demand.
    pub margin: f64,
}

/// What a provider will do with one assignment, drawn when the assignment is seen.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// Rounds after assignment until `StartTask`; `None`: it never starts (no-show).
    pub start_delay_rounds: Option<u32>,
    /// Rounds from start to `SubmitResult`.
    pub work_rounds: u32,
    /// Delivered quality per metric of the task's SLA, in bps (same order).
    pub quality_bps: Vec<u16>,
}

impl ProviderAgent {
    pub fn true_cost(&self, task: usize) -> f64 {
        TASK_TYPES[task].base_cost_per_unit * self.efficiency
    }

    /// The price per unit it aims to be paid.
    pub fn target_price(&self, task: usize) -> f64 {
        self.true_cost(task) * (1.0 + self.margin)
    }

    /// The ask it quotes for `task` at reputation `score`, at least 1.
    pub fn ask(&self, task: usize, score: u16) -> u64 {
        let target = self.target_price(task);
        let ask = match self.pricing {
            Pricing::Naive => target,
            Pricing::Aware => {
                target * f64::from(BPS_DENOMINATOR) / f64::from(multiplier_bps(score))
            }
        };
        (ask.ceil() as u64).max(1)
    }

    /// The ask it quotes to accept a request bidding `bid`, or `None` if it passes: the
    /// contract requires ask ≤ bid, and an aware provider also wants a price covering its
    /// cost (60 % of it while its score is below [`INVESTMENT_SCORE`]).
    pub fn quote(&self, task: usize, score: u16, bid: u64) -> Option<u64> {
        let desired = self.ask(task, score);
        match self.pricing {
            Pricing::Naive => (desired <= bid).then_some(desired),
            Pricing::Aware => {
                let ask = desired.min(bid);
                let price = settlement_price(Amount(ask), Amount(bid), score).ok()?.0;
                let floor = if score < INVESTMENT_SCORE {
                    INVESTMENT_FLOOR
                } else {
                    1.0
                };
                (price > 0 && price as f64 >= self.true_cost(task) * floor).then_some(ask)
            }
        }
    }

    /// The ask of its resting offer. A naive provider posts its usual ask. An aware one
    /// posts its usual ask but never below what keeps the price at or above its true cost:
    /// book matching compares the ask (not the multiplied price) with the bid, so any bid
    /// from the ask upwards can take the offer, and the price is then at least
    /// `min(bid, ask × m)` ≥ `ask × min(m, 1)`.
    pub fn offer_ask(&self, task: usize, score: u16) -> u64 {
        let ask = self.ask(task, score);
        match self.pricing {
            Pricing::Naive => ask,
            Pricing::Aware => {
                let m = f64::from(multiplier_bps(score).min(BPS_DENOMINATOR));
                let floor = self.true_cost(task) * f64::from(BPS_DENOMINATOR) / m;
                ask.max(floor.ceil() as u64)
            }
        }
    }

    /// Demand feedback once per round: a round with a new assignment raises the margin by
    /// a point; a round in which it was priced out of a request it could have served
    /// (its quote was refused) lowers it by a point. Losing a first-accept race changes
    /// nothing: the race is won by speed, not price.
    pub fn adapt_margin(&mut self, won: bool, priced_out: bool) {
        if won {
            self.margin = (self.margin + 0.01).min(1.0);
        } else if priced_out {
            self.margin = (self.margin - 0.01).max(0.0);
        }
    }

    /// A resting offer expired before its capacity was used: five points off the margin.
    pub fn offer_expired(&mut self) {
        self.margin = (self.margin - 0.05).max(0.0);
    }

    /// Draws how an assignment of `units` of `task` will go.
    pub fn plan(&self, rng: &mut SimRng, task: usize, units: u64) -> JobPlan {
        let lapse = 1.0 - self.reliability;
        let no_show = rng.chance(lapse * 0.15);
        let late_start = rng.chance(lapse * 0.5);
        let late_delay = rng.range(4, 12) as u32;
        let noise = rng.uniform(0.85, 1.15);
        let late_finish = rng.chance(lapse * 0.5);
        let stall = rng.uniform(1.6, 2.5);
        let low_quality = rng.chance(lapse * 0.35);
        let low = rng.uniform(0.2, 0.65);
        let normal = (self.quality + rng.uniform(-0.06, 0.06)).clamp(0.0, 1.0);
        let work_ms = units as f64 * TASK_TYPES[task].work_ms_per_unit as f64 / self.speed
            * noise
            * if late_finish { stall } else { 1.0 };
        let work_rounds = ((work_ms / ROUND_MS as f64).ceil() as u32).max(1);
        let base = if low_quality { low } else { normal };
        let quality_bps = TASK_TYPES[task]
            .quality_min
            .iter()
            .map(|_| {
                let q = (base + rng.uniform(-0.03, 0.03)).clamp(0.0, 1.0);
                (q * f64::from(BPS_DENOMINATOR)).floor() as u16
            })
            .collect();
        JobPlan {
            start_delay_rounds: (!no_show).then_some(if late_start { late_delay } else { 1 }),
            work_rounds,
            quality_bps,
        }
    }
}

/// A buyer of compute.
#[derive(Clone, Debug)]
pub struct RequesterAgent {
    pub key: Keypair,
    pub account: AccountId,
    /// Chance per round of posting a request.
    pub post_chance: f64,
    /// Relative demand for each task type.
    pub type_weights: [u64; 5],
    /// The most it pays per unit, as a multiple of the type's base cost.
    pub valuation: f64,
    /// Its current bid per unit for each task type.
    pub bids: [f64; 5],
    /// The arbitrator its requests name.
    pub arbitrator: usize,
}

/// How a requester's bid reacts to a closed request.
pub const BID_UP_UNFILLED: f64 = 1.08;
pub const BID_DOWN_AT_POSTING: f64 = 0.97;
pub const BID_DOWN_FILLED: f64 = 0.99;

impl RequesterAgent {
    /// The bid it posts for `task`, at least 1.
    pub fn bid(&self, task: usize) -> u64 {
        (self.bids[task].ceil() as u64).max(1)
    }

    /// After a request closes: raise the bid if units went unassigned, shade it if all
    /// were assigned (more if the book filled it at posting), within 0.5× base cost and
    /// its valuation.
    pub fn adapt_bid(&mut self, task: usize, fully_assigned: bool, filled_at_posting: bool) {
        let factor = if !fully_assigned {
            BID_UP_UNFILLED
        } else if filled_at_posting {
            BID_DOWN_AT_POSTING
        } else {
            BID_DOWN_FILLED
        };
        let base = TASK_TYPES[task].base_cost_per_unit;
        self.bids[task] = (self.bids[task] * factor).clamp(0.5 * base, self.valuation * base);
    }
}

/// Everyone in the simulation.
pub struct World {
    pub providers: Vec<ProviderAgent>,
    pub requesters: Vec<RequesterAgent>,
    pub arbitrators: Vec<Keypair>,
}

/// Number of arbitrator accounts; each request names one.
pub const ARBITRATORS: usize = 2;

/// An agent's key: derived from the seed, the salt, its role and index, so a run's
/// accounts are as reproducible as its transactions.
pub fn agent_key(config: &SimConfig, role: &str, index: u64) -> Keypair {
    Keypair::from_seed(sha256(&[
        b"agora-sim/v1\0",
        role.as_bytes(),
        &config.seed.to_be_bytes(),
        &config.salt.to_be_bytes(),
        &index.to_be_bytes(),
    ]))
}

impl World {
    /// Draws the population for `config`.
    pub fn generate(rng: &mut SimRng, config: &SimConfig) -> World {
        let providers = (0..config.providers)
            .map(|index| generate_provider(rng, config, u64::from(index)))
            .collect();
        let requesters = (0..config.requesters)
            .map(|index| generate_requester(rng, config, u64::from(index)))
            .collect();
        let arbitrators = (0..ARBITRATORS as u64)
            .map(|index| agent_key(config, "arbitrator", index))
            .collect();
        World {
            providers,
            requesters,
            arbitrators,
        }
    }
}

fn generate_provider(rng: &mut SimRng, config: &SimConfig, index: u64) -> ProviderAgent {
    let mut capabilities: Vec<&'static str> = CAPABILITIES
        .iter()
        .zip(CAPABILITY_ODDS)
        .filter_map(|(cap, odds)| rng.chance(odds).then_some(*cap))
        .collect();
    let serves_any = |caps: &[&str]| TASK_TYPES.iter().any(|t| can_serve(caps, t));
    if !serves_any(&capabilities) {
        capabilities.insert(0, "gpu");
    }
    let serves: Vec<usize> = (0..TASK_TYPES.len())
        .filter(|t| can_serve(&capabilities, &TASK_TYPES[*t]))
        .collect();
    let key = agent_key(config, "provider", index);
    let pricing = if rng.chance(0.5) {
        Pricing::Aware
    } else {
        Pricing::Naive
    };
    let offer_maker = rng.chance(0.4);
    let offer_pick = rng.range(0, serves.len() as u64 - 1) as usize;
    ProviderAgent {
        account: key.account(),
        key,
        capabilities,
        efficiency: rng.uniform(0.7, 1.3),
        reliability: rng.uniform(0.75, 0.99),
        speed: rng.uniform(0.7, 1.4),
        quality: rng.uniform(0.78, 0.97),
        attentiveness: rng.uniform(0.4, 1.0),
        capacity_units: rng.range(150, 600),
        pricing,
        offer_type: offer_maker.then(|| serves[offer_pick]),
        margin: rng.uniform(0.1, 0.4),
        serves,
    }
}

fn generate_requester(rng: &mut SimRng, config: &SimConfig, index: u64) -> RequesterAgent {
    let key = agent_key(config, "requester", index);
    let mut type_weights = [0u64; 5];
    for (weight, task) in type_weights.iter_mut().zip(TASK_TYPES) {
        // Each requester leans towards some types: the catalog weight times 0..=3.
        *weight = task.demand_weight * rng.range(0, 3);
    }
    if type_weights.iter().all(|w| *w == 0) {
        type_weights[0] = TASK_TYPES[0].demand_weight;
    }
    let valuation = rng.uniform(1.4, 2.4);
    let mut bids = [0.0; 5];
    for (bid, task) in bids.iter_mut().zip(TASK_TYPES) {
        *bid = (task.base_cost_per_unit * rng.uniform(0.9, 1.5))
            .min(task.base_cost_per_unit * valuation);
    }
    RequesterAgent {
        account: key.account(),
        key,
        post_chance: rng.uniform(0.15, 0.4),
        type_weights,
        valuation,
        bids,
        arbitrator: (index % ARBITRATORS as u64) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(pricing: Pricing) -> ProviderAgent {
        let key = Keypair::dev(9);
        ProviderAgent {
            account: key.account(),
            key,
            capabilities: vec!["gpu"],
            serves: vec![0],
            efficiency: 1.0,
            reliability: 1.0,
            speed: 1.0,
            quality: 0.9,
            attentiveness: 1.0,
            capacity_units: 100,
            pricing,
            offer_type: None,
            margin: 0.25,
        }
    }

    #[test]
    fn aware_providers_divide_by_the_multiplier_and_naive_ones_do_not() {
        // inference costs 120; target 150.
        assert_eq!(provider(Pricing::Naive).ask(0, 50), 150);
        assert_eq!(provider(Pricing::Aware).ask(0, 100), 150);
        assert_eq!(provider(Pricing::Aware).ask(0, 50), 300);
        assert_eq!(provider(Pricing::Aware).ask(0, 200), 75);
    }

    #[test]
    fn aware_providers_refuse_work_paid_below_cost_unless_investing() {
        let aware = provider(Pricing::Aware);
        // Score 200: ask 75 → price min(bid, 150). A bid of 110 pays 110 < cost 120.
        assert_eq!(aware.quote(0, 200, 110), None);
        assert_eq!(aware.quote(0, 200, 130), Some(75));
        // Score 50 (investing): ask capped at the bid, price = bid / 2 ≥ 72 needed.
        assert_eq!(aware.quote(0, 50, 140), None);
        assert_eq!(aware.quote(0, 50, 150), Some(150));
        // Naive: only ask ≤ bid.
        assert_eq!(provider(Pricing::Naive).quote(0, 50, 149), None);
        assert_eq!(provider(Pricing::Naive).quote(0, 50, 150), Some(150));
    }

    #[test]
    fn aware_offers_never_ask_below_what_covers_cost() {
        // Score 200: usual ask 75, but a bid of 75 would then pay 75 < cost 120.
        assert_eq!(provider(Pricing::Aware).offer_ask(0, 200), 120);
        assert_eq!(provider(Pricing::Aware).offer_ask(0, 50), 300);
        assert_eq!(provider(Pricing::Naive).offer_ask(0, 200), 150);
    }
}
