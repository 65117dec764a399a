//! The round loop. Each round is one block, `ROUND_MS` of block time: the agents decide
//! from what the chain showed after the previous block, their signed transactions go
//! through the SDK's `Chain` (submit, mine one block, wait for receipts), and the receipts
//! and the state the block committed are read back into records. New assignments are
//! learnt from `Assigned` events in receipts; statuses, prices, penalties and scores from
//! the assignment, request, escrow and provider records in state, so settlements done by
//! the block hook (silent reviews, missed deadlines, disputes) are seen like any other.

use std::collections::BTreeMap;

use agora_contract::action::PostRequest;
use agora_contract::bounded::{BoundedVec, Label};
use agora_contract::escrow::Outcome as Ruling;
use agora_contract::event::{Event, MarketEvent};
use agora_contract::ids::{sha256, AccountId, Hash, Uuid};
use agora_contract::market::privacy::Privacy;
use agora_contract::market::{
    AssignmentStatus, Offer, OfferStatus, QualityMin, QualityScore, Request, RequestStatus, Sla,
    TaskSpec,
};
use agora_contract::tx::SignedTx;
use agora_contract::Amount;
use agora_sdk::chain::CommittedTx;
use agora_sdk::testchain::BLOCK_TIME_MS;
use agora_sdk::{Chain, Keypair, TxBuilder};
use anyhow::{anyhow, bail, Context, Result};

use crate::agents::{JobPlan, Pricing, World};
use crate::catalog::{can_serve, capability_labels, label, TASK_TYPES};
use crate::chainview::{chain_head, delivered_payload, price_window, state_root};
use crate::payload;
use crate::records::{
    AssignmentRecord, Outcome, ProviderSummary, RequestRecord, RoundRecord, Settlement,
};
use crate::rng::SimRng;
use crate::{SimConfig, ROUND_MS};

/// What each requester is minted at set-up.
pub const REQUESTER_BUDGET: u64 = 10_000_000_000;
/// Request terms the requesters use.
pub const WINDOW_MS: u64 = 300_000;
pub const MAX_RESPONSE_MS: u64 = 90_000;
pub const REVIEW_WINDOW_MS: u64 = 300_000;
/// Slack between the SLA's allowances and the hard delivery deadline.
pub const DELIVERY_SLACK_MS: u64 = 600_000;
/// Resting offers live this long and hold at most this many units.
pub const OFFER_LIFETIME_MS: u64 = 1_200_000;
pub const OFFER_CAPACITY_MAX: u64 = 200;
/// Delivered quality below this (mean, bps) makes a requester dispute rather than rate…
pub const DISPUTE_BELOW_BPS: u64 = 3_500;
/// …with this probability.
pub const DISPUTE_CHANCE: f64 = 0.8;
/// Chance that a requester stays silent through the review window.
pub const SILENT_CHANCE: f64 = 0.1;
/// An arbitrator refunds results below this quality and splits by quality above it.
pub const REFUND_BELOW_BPS: u64 = 3_000;

/// One round's progress, for the progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub round: u32,
    pub rounds: u32,
    pub draining: bool,
}

/// What to do with a transaction's receipt.
#[derive(Clone, Copy, Debug)]
enum Effect {
    Setup,
    Post { record: usize },
    Accept,
    Offer { provider: usize, id: Uuid },
    Start { job: Uuid },
    Submit { job: Uuid },
    Review,
    Dispute { job: Uuid },
    Resolve { job: Uuid },
    Deliver { job: Uuid },
}

struct Planned {
    action: &'static str,
    tx: SignedTx,
    effect: Effect,
}

/// An assignment the simulation is still following.
struct Job {
    record: usize,
    provider: usize,
    requester: usize,
    task: usize,
    plan: JobPlan,
    assigned_round: u32,
    status: AssignmentStatus,
    /// Confidential requests: the commitment, and the payload the requester delivers.
    confidential: Option<(Hash, Vec<u8>)>,
    delivered: bool,
    /// The provider opened the delivered payload and it matched the commitment.
    payload_ready: bool,
    payload_failed: bool,
    started_round: Option<u32>,
    submitted_round: Option<u32>,
    /// When the requester looks at the submitted result.
    review_round: Option<u32>,
    reviewed: bool,
    /// `Some(resolved)` once a dispute is raised.
    dispute: Option<bool>,
    dispute_round: u32,
}

/// A posted request whose auction is still open.
struct OpenRequest {
    record: usize,
    id: Uuid,
    chain: Option<Request>,
    payload: Vec<u8>,
}

struct Driver<'c, C: Chain> {
    chain: &'c C,
    config: SimConfig,
    rng: SimRng,
    world: World,
    provider_tx: Vec<TxBuilder>,
    requester_tx: Vec<TxBuilder>,
    arbitrator_tx: Vec<TxBuilder>,
    provider_index: BTreeMap<AccountId, usize>,
    request_index: BTreeMap<Uuid, usize>,
    round: u32,
    now_ms: u64,
    scores: Vec<u16>,
    open_requests: Vec<OpenRequest>,
    jobs: BTreeMap<Uuid, Job>,
    /// Assignments made by the last block, to complete from state.
    fresh: Vec<Uuid>,
    offers: Vec<Option<(Uuid, Option<Offer>)>>,
    won: Vec<bool>,
    priced_out: Vec<bool>,
    round_txs: u64,
    round_failed: u64,
    tx_digest: Hash,
    out: Outcome,
}

/// Runs the whole simulation against `chain` and returns what it observed.
pub async fn run<C: Chain>(
    chain: &C,
    config: SimConfig,
    mut on_round: impl FnMut(Progress),
) -> Result<Outcome> {
    let mut driver = Driver::new(chain, config).await?;
    driver.setup().await?;
    loop {
        let posting = driver.round < config.rounds;
        if !posting && driver.idle() {
            break;
        }
        if driver.round >= config.rounds.saturating_add(config.drain_rounds_max) {
            break;
        }
        let planned = driver.decide()?;
        let committed = driver.step(planned).await?;
        driver.absorb(committed)?;
        driver.observe().await?;
        on_round(Progress {
            round: driver.round,
            rounds: config.rounds,
            draining: !posting,
        });
        driver.round += 1;
    }
    driver.finish().await
}

fn new_uuid(rng: &mut SimRng) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    // Version 4, RFC 4122 variant: never the version 8 the chain reserves.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// A builder per key, each starting at the account's committed nonce.
async fn builders<C: Chain>(
    chain: &C,
    chain_id: &Label,
    keys: Vec<Keypair>,
) -> Result<Vec<TxBuilder>> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let nonce = chain.next_nonce(&key.account()).await?;
        out.push(TxBuilder::new(chain_id.clone(), key, nonce));
    }
    Ok(out)
}

fn mean_bps(quality: &[u16]) -> u64 {
    let sum: u64 = quality.iter().map(|q| u64::from(*q)).sum();
    sum / (quality.len() as u64).max(1)
}

impl<'c, C: Chain> Driver<'c, C> {
    async fn new(chain: &'c C, config: SimConfig) -> Result<Driver<'c, C>> {
        let mut rng = SimRng::new(config.seed, config.salt);
        let world = World::generate(&mut rng, &config);
        let chain_id = chain.chain_id().await?;
        let provider_keys: Vec<Keypair> = world.providers.iter().map(|p| p.key.clone()).collect();
        let requester_keys: Vec<Keypair> = world.requesters.iter().map(|r| r.key.clone()).collect();
        let provider_tx = builders(chain, &chain_id, provider_keys).await?;
        let requester_tx = builders(chain, &chain_id, requester_keys).await?;
        let arbitrator_tx = builders(chain, &chain_id, world.arbitrators.clone()).await?;
        let provider_index = world
            .providers
            .iter()
            .enumerate()
            .map(|(index, p)| (p.account, index))
            .collect();
        let providers = world.providers.len();
        let population_cost = (0..TASK_TYPES.len())
            .map(|task| {
                let costs: Vec<f64> = world
                    .providers
                    .iter()
                    .filter(|p| p.serves.contains(&task))
                    .map(|p| p.true_cost(task))
                    .collect();
                (!costs.is_empty()).then(|| costs.iter().sum::<f64>() / costs.len() as f64)
            })
            .collect();
        Ok(Driver {
            chain,
            config,
            rng,
            world,
            provider_tx,
            requester_tx,
            arbitrator_tx,
            provider_index,
            request_index: BTreeMap::new(),
            round: 0,
            now_ms: 0,
            scores: vec![0; providers],
            open_requests: Vec::new(),
            jobs: BTreeMap::new(),
            fresh: Vec::new(),
            offers: vec![None; providers],
            won: vec![false; providers],
            priced_out: vec![false; providers],
            round_txs: 0,
            round_failed: 0,
            tx_digest: [0; 32],
            out: Outcome {
                config,
                population_cost,
                ..Outcome::default()
            },
        })
    }

    /// Funds the requesters (dev account 0 is the mint authority) and registers the
    /// providers, in one block that must succeed whole.
    async fn setup(&mut self) -> Result<()> {
        let mut funder = self.chain.builder(Keypair::dev(0)).await?;
        let mut planned = Vec::new();
        for requester in &self.world.requesters {
            planned.push(Planned {
                action: "Mint",
                tx: funder.mint(requester.account, REQUESTER_BUDGET),
                effect: Effect::Setup,
            });
        }
        for (index, provider) in self.world.providers.iter().enumerate() {
            let capabilities = capability_labels(&provider.capabilities);
            planned.push(Planned {
                action: "RegisterProvider",
                tx: self.provider_tx[index].register_provider(capabilities),
                effect: Effect::Setup,
            });
        }
        let committed = self.step(planned).await?;
        for (planned, tx) in &committed {
            if let Some(error) = tx.error() {
                bail!(
                    "set-up {} failed: {} (dev account 0 must be the mint authority, and a \
                     re-run against the same node needs another --seed)",
                    planned.action,
                    error.name()
                );
            }
        }
        self.observe().await?;
        // Set-up is not a round of the market.
        self.out.rounds.clear();
        Ok(())
    }

    /// Nothing left to follow: every request closed, every assignment settled.
    fn idle(&self) -> bool {
        self.open_requests.is_empty() && self.jobs.is_empty()
    }

    /// Advances block time by one round, submits the transactions, mines one block and
    /// collects every receipt.
    async fn step(&mut self, planned: Vec<Planned>) -> Result<Vec<(Planned, CommittedTx)>> {
        self.chain
            .advance_time(ROUND_MS.saturating_sub(BLOCK_TIME_MS))
            .await?;
        let mut hashes = Vec::with_capacity(planned.len());
        for item in &planned {
            let hash = self
                .chain
                .submit(&item.tx)
                .await
                .with_context(|| format!("submitting {}", item.action))?;
            self.tx_digest = sha256(&[&self.tx_digest, &hash]);
            hashes.push(hash);
        }
        self.chain.mine(1).await?;
        let mut committed = Vec::with_capacity(planned.len());
        for (item, hash) in planned.into_iter().zip(hashes) {
            let tx = self.chain.wait(&hash).await?;
            let tally = self.out.txs.entry(item.action.to_string()).or_default();
            tally.submitted += 1;
            match tx.error() {
                None => tally.succeeded += 1,
                Some(error) => {
                    *tally.failed.entry(error.name().to_string()).or_default() += 1;
                    self.round_failed += 1;
                }
            }
            self.round_txs += 1;
            committed.push((item, tx));
        }
        Ok(committed)
    }

    // ---- decisions ------------------------------------------------------------------

    fn decide(&mut self) -> Result<Vec<Planned>> {
        let mut planned = Vec::new();
        self.decide_rulings(&mut planned);
        self.decide_requester_steps(&mut planned)?;
        self.decide_provider_steps(&mut planned);
        let mut reserved = vec![0u64; self.world.providers.len()];
        self.decide_offers(&mut planned, &mut reserved);
        self.decide_accepts(&mut planned, &mut reserved);
        if self.round < self.config.rounds {
            self.decide_posts(&mut planned)?;
        }
        Ok(planned)
    }

    /// Arbitrators rule on disputes raised in an earlier round, from the delivered
    /// quality they are shown: refund garbage, otherwise split by quality.
    fn decide_rulings(&mut self, planned: &mut Vec<Planned>) {
        for (id, job) in &self.jobs {
            if job.dispute != Some(false) || job.dispute_round >= self.round {
                continue;
            }
            let quality = mean_bps(&job.plan.quality_bps);
            let ruling = if quality < REFUND_BELOW_BPS {
                Ruling::Refund
            } else {
                Ruling::Split {
                    provider_bps: quality as u16,
                }
            };
            let arbitrator = self.world.requesters[job.requester].arbitrator;
            planned.push(Planned {
                action: "Resolve",
                tx: self.arbitrator_tx[arbitrator].resolve(*id, ruling),
                effect: Effect::Resolve { job: *id },
            });
        }
    }

    /// Requesters deliver confidential payloads and review submitted results: rate
    /// honestly (the delivered quality), dispute garbage, or now and then stay silent.
    fn decide_requester_steps(&mut self, planned: &mut Vec<Planned>) -> Result<()> {
        for (id, job) in self.jobs.iter_mut() {
            if let Some((_, payload_bytes)) = &job.confidential {
                if !job.delivered && job.status == AssignmentStatus::Assigned {
                    let provider = self.world.providers[job.provider].account;
                    let ciphertext = payload::seal(&mut self.rng, &provider, payload_bytes)?;
                    planned.push(Planned {
                        action: "DeliverPayload",
                        tx: self.requester_tx[job.requester].deliver_payload(*id, ciphertext),
                        effect: Effect::Deliver { job: *id },
                    });
                }
            }
            let due = job.review_round.is_some_and(|round| round <= self.round);
            if job.status != AssignmentStatus::Submitted || job.reviewed || !due {
                continue;
            }
            job.reviewed = true;
            let builder = &mut self.requester_tx[job.requester];
            if mean_bps(&job.plan.quality_bps) < DISPUTE_BELOW_BPS
                && self.rng.chance(DISPUTE_CHANCE)
            {
                let reason = sha256(&[b"low quality", id.as_bytes()]);
                planned.push(Planned {
                    action: "RaiseDispute",
                    tx: builder.raise_dispute(*id, reason, BoundedVec::empty()),
                    effect: Effect::Dispute { job: *id },
                });
            } else if !self.rng.chance(SILENT_CHANCE) {
                let scores = TASK_TYPES[job.task]
                    .quality_min
                    .iter()
                    .zip(&job.plan.quality_bps)
                    .map(|((metric, _), score)| QualityScore {
                        metric: label(metric),
                        score_bps: *score,
                    })
                    .collect();
                let scores = BoundedVec::new(scores).map_err(|_| anyhow!("too many scores"))?;
                planned.push(Planned {
                    action: "RateResult",
                    tx: builder.rate_result(*id, scores),
                    effect: Effect::Review,
                });
            }
        }
        Ok(())
    }

    /// Providers start and submit as their plan says. A confidential task starts only
    /// once its payload is on chain and opens against the request's commitment; that
    /// check is done when the payload is seen (in `observe`).
    fn decide_provider_steps(&mut self, planned: &mut Vec<Planned>) {
        for (id, job) in &self.jobs {
            let builder = &mut self.provider_tx[job.provider];
            match job.status {
                AssignmentStatus::Assigned => {
                    let Some(delay) = job.plan.start_delay_rounds else {
                        continue; // a no-show
                    };
                    let waiting_payload = job.confidential.is_some() && !job.payload_ready;
                    if job.started_round.is_none()
                        && !waiting_payload
                        && self.round >= job.assigned_round + delay
                    {
                        planned.push(Planned {
                            action: "StartTask",
                            tx: builder.start_task(*id),
                            effect: Effect::Start { job: *id },
                        });
                    }
                }
                AssignmentStatus::Started => {
                    let done = job
                        .started_round
                        .is_some_and(|start| self.round >= start + job.plan.work_rounds);
                    if done && job.submitted_round.is_none() {
                        let result = sha256(&[b"result", id.as_bytes()]);
                        planned.push(Planned {
                            action: "SubmitResult",
                            tx: builder.submit_result(*id, result),
                            effect: Effect::Submit { job: *id },
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// Units a provider has free: capacity less work not yet submitted, the remaining
    /// capacity of its open resting offer, and what it reserved earlier this round.
    fn free_units(&self, provider: usize, reserved: &[u64]) -> u64 {
        let busy: u64 = self
            .jobs
            .values()
            .filter(|job| job.provider == provider)
            .filter(|job| {
                matches!(
                    job.status,
                    AssignmentStatus::Assigned | AssignmentStatus::Started
                )
            })
            .map(|job| self.out.assignments[job.record].units)
            .sum();
        let offered = match &self.offers[provider] {
            Some((_, Some(offer))) => offer.capacity_units,
            Some((_, None)) => OFFER_CAPACITY_MAX,
            None => 0,
        };
        self.world.providers[provider]
            .capacity_units
            .saturating_sub(busy)
            .saturating_sub(offered)
            .saturating_sub(reserved[provider])
    }

    /// Offer makers keep one resting offer on the book for their chosen task type.
    fn decide_offers(&mut self, planned: &mut Vec<Planned>, reserved: &mut [u64]) {
        for provider in 0..self.world.providers.len() {
            let Some(task) = self.world.providers[provider].offer_type else {
                continue;
            };
            if self.offers[provider].is_some() {
                continue;
            }
            let capacity = self.free_units(provider, reserved).min(OFFER_CAPACITY_MAX);
            if capacity < 10 {
                continue;
            }
            reserved[provider] += capacity;
            let agent = &self.world.providers[provider];
            let ask = agent.offer_ask(task, self.scores[provider]);
            let id = new_uuid(&mut self.rng);
            let types = BoundedVec::new(vec![label(TASK_TYPES[task].name)])
                .unwrap_or_else(|_| unreachable!("one task type"));
            let expires_at_ms = self.now_ms + OFFER_LIFETIME_MS;
            planned.push(Planned {
                action: "PostOffer",
                tx: self.provider_tx[provider].post_offer(id, types, ask, capacity, expires_at_ms),
                effect: Effect::Offer { provider, id },
            });
        }
    }

    /// Providers who notice an open request they qualify for and can fit quote their ask;
    /// the acceptances go into the block in order of each provider's reaction time, so
    /// the first ones take the slices and the rest fail (`NotOpen`) like on a real chain.
    fn decide_accepts(&mut self, planned: &mut Vec<Planned>, reserved: &mut [u64]) {
        let next_block_ms = self.now_ms + ROUND_MS;
        for open in 0..self.open_requests.len() {
            let Some(request) = self.open_requests[open].chain.clone() else {
                continue;
            };
            if request.status != RequestStatus::Open || next_block_ms >= request.window_ends_ms {
                continue;
            }
            let task = self.out.requests[self.open_requests[open].record].task_type;
            let slice = request
                .share_units
                .min(request.units.saturating_sub(request.units_assigned));
            let mut candidates: Vec<(f64, usize, u64)> = Vec::new();
            for provider in 0..self.world.providers.len() {
                let agent = &self.world.providers[provider];
                let score = self.scores[provider];
                let allowed = match &request.privacy {
                    Privacy::Private { recipients } => recipients
                        .as_slice()
                        .iter()
                        .any(|sealed| sealed.provider == agent.account),
                    _ => true,
                };
                let eligible = can_serve(&agent.capabilities, &TASK_TYPES[task])
                    && allowed
                    && request.spec.min_reputation.is_none_or(|min| score >= min)
                    && request.providers.binary_search(&agent.account).is_err()
                    && self.free_units(provider, reserved) >= slice;
                if !eligible {
                    continue;
                }
                if !self.rng.chance(agent.attentiveness) {
                    continue;
                }
                let Some(ask) = agent.quote(task, score, request.bid_per_unit.0) else {
                    self.priced_out[provider] = true;
                    continue;
                };
                if matches!(request.privacy, Privacy::Private { .. })
                    && agora_sdk::payload::open_private(&agent.key, &request.privacy).is_err()
                {
                    self.out.payload_failures += 1;
                    continue;
                }
                let reaction = self.rng.unit() / agent.attentiveness;
                candidates.push((reaction, provider, ask));
            }
            candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, provider, ask) in candidates {
                reserved[provider] += slice;
                planned.push(Planned {
                    action: "AcceptRequest",
                    tx: self.provider_tx[provider].accept_request(request.id, ask),
                    effect: Effect::Accept,
                });
            }
        }
    }

    /// Requesters post new requests: a task type by their demand weights, a size from the
    /// catalog, their current bid, SLA terms scaled to the slice, and a privacy level.
    fn decide_posts(&mut self, planned: &mut Vec<Planned>) -> Result<()> {
        for requester in 0..self.world.requesters.len() {
            let agent = &self.world.requesters[requester];
            if !self.rng.chance(agent.post_chance) {
                continue;
            }
            let Some(task) = self.rng.weighted(&agent.type_weights) else {
                continue;
            };
            let kind = &TASK_TYPES[task];
            let units = self.rng.range(kind.units_min, kind.units_max);
            let bid = agent.bid(task);
            let arbitrator = self.world.arbitrators[agent.arbitrator].account();
            let max_providers = (units / 100).clamp(1, 10);
            let share = units.div_ceil(max_providers);
            let max_duration_ms = share * kind.work_ms_per_unit * 3 / 2 + 60_000;
            let mut payload_bytes = vec![0u8; 64];
            self.rng.fill(&mut payload_bytes);
            let privacy_draw = self.rng.unit();
            let gate_draw = self.rng.chance(0.1);
            let (privacy, level, min_reputation) = if privacy_draw < 0.70 {
                let clear = BoundedVec::new(payload_bytes.clone())
                    .map_err(|_| anyhow!("payload too large"))?;
                let gate = gate_draw.then_some(70);
                (Privacy::Public { payload: clear }, "public", gate)
            } else if privacy_draw < 0.85 {
                let list = self.allow_list(task);
                if list.is_empty() {
                    let clear = BoundedVec::new(payload_bytes.clone())
                        .map_err(|_| anyhow!("payload too large"))?;
                    (Privacy::Public { payload: clear }, "public", None)
                } else {
                    let privacy = payload::private_for(&mut self.rng, &list, &payload_bytes)?;
                    (privacy, "private", None)
                }
            } else {
                let commitment = agora_sdk::payload::commitment(&payload_bytes);
                (
                    Privacy::Confidential { commitment },
                    "confidential",
                    Some(80),
                )
            };
            let quality_min = kind
                .quality_min
                .iter()
                .map(|(metric, min_bps)| QualityMin {
                    metric: label(metric),
                    min_bps: *min_bps,
                })
                .collect();
            let capabilities: Vec<Label> = kind.capabilities.iter().map(|c| label(c)).collect();
            let id = new_uuid(&mut self.rng);
            let post = PostRequest {
                id,
                spec: TaskSpec {
                    task_type: label(kind.name),
                    capabilities: BoundedVec::new(capabilities)
                        .map_err(|_| anyhow!("too many capabilities"))?,
                    min_reputation,
                    max_duration_ms: MAX_RESPONSE_MS + max_duration_ms + DELIVERY_SLACK_MS,
                },
                bid_per_unit: Amount(bid),
                units,
                window_ms: Some(WINDOW_MS),
                arbitrators: BoundedVec::new(vec![arbitrator])
                    .map_err(|_| anyhow!("too many arbitrators"))?,
                sla: Sla {
                    max_response_ms: MAX_RESPONSE_MS,
                    max_duration_ms,
                    quality_min: BoundedVec::new(quality_min)
                        .map_err(|_| anyhow!("too many metrics"))?,
                    penalty: Amount(bid * share / 5),
                    review_window_ms: REVIEW_WINDOW_MS,
                },
                privacy,
            };
            let record = self.out.requests.len();
            self.out.requests.push(RequestRecord {
                id: id.to_string(),
                requester,
                task_type: task,
                units,
                bid_per_unit: bid,
                privacy: level,
                round_posted: self.round,
                ..RequestRecord::default()
            });
            self.request_index.insert(id, record);
            self.open_requests.push(OpenRequest {
                record,
                id,
                chain: None,
                payload: payload_bytes,
            });
            planned.push(Planned {
                action: "PostRequest",
                tx: self.requester_tx[requester].post_request(post),
                effect: Effect::Post { record },
            });
        }
        Ok(())
    }

    /// A private request's allow-list: up to 8 providers able to serve the task, best
    /// chain score first.
    fn allow_list(&self, task: usize) -> Vec<AccountId> {
        let mut able: Vec<(u16, AccountId)> = self
            .world
            .providers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.serves.contains(&task))
            .map(|(index, p)| (self.scores[index], p.account))
            .collect();
        able.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        able.into_iter().take(8).map(|(_, a)| a).collect()
    }

    // ---- receipts -------------------------------------------------------------------

    fn absorb(&mut self, committed: Vec<(Planned, CommittedTx)>) -> Result<()> {
        for (planned, tx) in committed {
            let success = tx.success();
            match planned.effect {
                Effect::Setup | Effect::Accept | Effect::Review => {}
                Effect::Post { record } => {
                    let entry = &mut self.out.requests[record];
                    entry.posted = success;
                    entry.post_error = tx.error().map(|e| e.name().to_string());
                    if !success {
                        self.open_requests.retain(|open| open.record != record);
                    }
                }
                Effect::Offer { provider, id } => {
                    if success {
                        self.offers[provider] = Some((id, None));
                    }
                }
                Effect::Start { job } => {
                    if let Some(job) = self.jobs.get_mut(&job).filter(|_| success) {
                        job.started_round = Some(self.round);
                    }
                }
                Effect::Submit { job } => {
                    if let Some(job) = self.jobs.get_mut(&job).filter(|_| success) {
                        job.submitted_round = Some(self.round);
                    }
                }
                Effect::Dispute { job } => {
                    if let Some(job) = self.jobs.get_mut(&job).filter(|_| success) {
                        job.dispute = Some(false);
                        job.dispute_round = self.round;
                    }
                }
                Effect::Resolve { job } => {
                    if let Some(job) = self.jobs.get_mut(&job).filter(|_| success) {
                        job.dispute = Some(true);
                    }
                }
                Effect::Deliver { job } => {
                    if let Some(job) = self.jobs.get_mut(&job).filter(|_| success) {
                        job.delivered = true;
                    }
                }
            }
            if success {
                for event in &tx.receipt.events {
                    if let Event::Market(MarketEvent::Assigned {
                        assignment_id,
                        request_id,
                        provider,
                        units,
                        price_per_unit,
                        ..
                    }) = event
                    {
                        self.assigned(
                            *assignment_id,
                            *request_id,
                            provider,
                            *units,
                            *price_per_unit,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A new assignment from an `Assigned` event: start a record and draw the provider's
    /// plan for it. The rest of the record is read from state in `observe`.
    fn assigned(
        &mut self,
        id: Uuid,
        request_id: Uuid,
        provider_account: &AccountId,
        units: u64,
        price: Amount,
    ) -> Result<()> {
        let provider = *self
            .provider_index
            .get(provider_account)
            .ok_or_else(|| anyhow!("assignment to an unknown provider {provider_account}"))?;
        let request_record = *self
            .request_index
            .get(&request_id)
            .ok_or_else(|| anyhow!("assignment on an unknown request {request_id}"))?;
        let request = &self.out.requests[request_record];
        let task = request.task_type;
        let requester = request.requester;
        let bid = request.bid_per_unit;
        let confidential = self
            .open_requests
            .iter()
            .find(|open| open.id == request_id)
            .filter(|_| request.privacy == "confidential")
            .map(|open| {
                let commitment = agora_sdk::payload::commitment(&open.payload);
                (commitment, open.payload.clone())
            });
        let plan = self.world.providers[provider].plan(&mut self.rng, task, units);
        let record = self.out.assignments.len();
        self.out.assignments.push(AssignmentRecord {
            id: id.to_string(),
            request_id: request_id.to_string(),
            task_type: task,
            provider,
            units,
            price_per_unit: price.0,
            bid_per_unit: bid,
            assigned_round: self.round,
            true_cost_per_unit: self.world.providers[provider].true_cost(task),
            ..AssignmentRecord::default()
        });
        self.won[provider] = true;
        self.fresh.push(id);
        self.jobs.insert(
            id,
            Job {
                record,
                provider,
                requester,
                task,
                plan,
                assigned_round: self.round,
                status: AssignmentStatus::Assigned,
                confidential,
                delivered: false,
                payload_ready: false,
                payload_failed: false,
                started_round: None,
                submitted_round: None,
                review_round: None,
                reviewed: false,
                dispute: None,
                dispute_round: 0,
            },
        );
        Ok(())
    }

    // ---- observation ----------------------------------------------------------------

    /// Reads what the block committed: head, scores, new assignments, requests, jobs,
    /// offers and price statistics; then lets providers adapt their margins.
    async fn observe(&mut self) -> Result<()> {
        let head = chain_head(self.chain).await?;
        self.now_ms = head.time_ms;
        for (index, provider) in self.world.providers.iter().enumerate() {
            let record = self.chain.provider(&provider.account).await?;
            self.scores[index] = record.map_or(0, |p| p.score);
        }
        self.observe_fresh().await?;
        self.observe_requests().await?;
        self.observe_jobs().await?;
        let book_depth_units = self.observe_offers().await?;
        let mut vwap = Vec::with_capacity(TASK_TYPES.len());
        for task in TASK_TYPES {
            let stats = price_window(self.chain, &label(task.name), self.now_ms).await?;
            vwap.push(stats.map(|s| s.vwap.0));
        }
        self.out.rounds.push(RoundRecord {
            round: self.round,
            height: head.height,
            time_ms: head.time_ms,
            txs: std::mem::take(&mut self.round_txs),
            txs_failed: std::mem::take(&mut self.round_failed),
            vwap,
            book_depth_units,
        });
        for (provider, agent) in self.world.providers.iter_mut().enumerate() {
            agent.adapt_margin(self.won[provider], self.priced_out[provider]);
        }
        self.won.iter_mut().for_each(|w| *w = false);
        self.priced_out.iter_mut().for_each(|w| *w = false);
        Ok(())
    }

    /// Completes the records of the block's new assignments from the assignment record.
    async fn observe_fresh(&mut self) -> Result<()> {
        for id in std::mem::take(&mut self.fresh) {
            let assignment = self
                .chain
                .assignment(&id)
                .await?
                .ok_or_else(|| anyhow!("assignment {id} is not in state"))?;
            let request = self
                .chain
                .request(&assignment.request_id)
                .await?
                .ok_or_else(|| anyhow!("request {} is not in state", assignment.request_id))?;
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            let record = &mut self.out.assignments[job.record];
            record.ask_per_unit = assignment.ask_per_unit.0;
            record.price_per_unit = assignment.price_per_unit.0;
            record.cost = assignment.cost.0;
            record.units = assignment.units;
            record.from_offer = assignment.offer_id.is_some();
            record.assigned_at_ms = assignment.assigned_at_ms;
            record.request_created_at_ms = request.created_at_ms;
            record.score_at_assignment = self.scores[job.provider];
        }
        Ok(())
    }

    /// Follows open requests until they close; a closed request's outcome moves its
    /// requester's bid.
    async fn observe_requests(&mut self) -> Result<()> {
        let mut still_open = Vec::with_capacity(self.open_requests.len());
        for mut open in std::mem::take(&mut self.open_requests) {
            let request = self
                .chain
                .request(&open.id)
                .await?
                .ok_or_else(|| anyhow!("posted request {} is not in state", open.id))?;
            let record = &mut self.out.requests[open.record];
            record.created_at_ms = Some(request.created_at_ms);
            record.units_assigned = request.units_assigned;
            if request.status == RequestStatus::Open {
                open.chain = Some(request);
                still_open.push(open);
                continue;
            }
            record.status = Some(format!("{:?}", request.status));
            record.closed_round = Some(self.round);
            let fully = request.units_assigned >= request.units;
            let at_posting = record.round_posted == self.round;
            let (requester, task) = (record.requester, record.task_type);
            self.world.requesters[requester].adapt_bid(task, fully, at_posting);
        }
        self.open_requests = still_open;
        Ok(())
    }

    /// Follows assignments until the contract settles them.
    async fn observe_jobs(&mut self) -> Result<()> {
        let ids: Vec<Uuid> = self.jobs.keys().copied().collect();
        for id in ids {
            let assignment = self
                .chain
                .assignment(&id)
                .await?
                .ok_or_else(|| anyhow!("assignment {id} is not in state"))?;
            if assignment.status.is_settled() {
                let escrow = self
                    .chain
                    .escrow(&id)
                    .await?
                    .ok_or_else(|| anyhow!("escrow {id} is not in state"))?;
                let record = self.jobs.get(&id).map(|job| job.record);
                if let Some(record) = record {
                    self.out.assignments[record].settlement = Some(Settlement {
                        round: self.round,
                        status: format!("{:?}", assignment.status),
                        violations: assignment.violations,
                        penalty_charged: assignment.penalty_charged.0,
                        disputed: escrow.dispute.is_some(),
                        escrow_status: format!("{:?}", escrow.status),
                    });
                }
                self.jobs.remove(&id);
                continue;
            }
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            job.status = assignment.status;
            if job.status == AssignmentStatus::Submitted && job.review_round.is_none() {
                job.review_round = Some(self.round + self.rng.range(1, 3) as u32);
            }
            if let Some((commitment, _)) = &job.confidential {
                if job.delivered && !job.payload_ready && !job.payload_failed {
                    let key = &self.world.providers[job.provider].key;
                    let sealed = delivered_payload(self.chain, &id).await?;
                    let opened = sealed.and_then(|s| {
                        let ciphertext = s.ciphertext.as_slice();
                        agora_sdk::payload::open_confidential(key, commitment, ciphertext).ok()
                    });
                    job.payload_ready = opened.is_some();
                    if opened.is_none() {
                        // It never starts: the contract settles it as not delivered.
                        job.payload_failed = true;
                        self.out.payload_failures += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Follows each offer maker's resting offer; an offer that is no longer open (used
    /// up or expired) is replaced next round. Returns the book depth per task type.
    async fn observe_offers(&mut self) -> Result<Vec<u64>> {
        let mut depth = vec![0u64; TASK_TYPES.len()];
        for provider in 0..self.offers.len() {
            let Some((id, _)) = self.offers[provider] else {
                continue;
            };
            let offer = self
                .chain
                .offer(&id)
                .await?
                .ok_or_else(|| anyhow!("offer {id} is not in state"))?;
            match offer.status {
                OfferStatus::Open => {}
                OfferStatus::Expired => {
                    self.world.providers[provider].offer_expired();
                    self.offers[provider] = None;
                    continue;
                }
                OfferStatus::Exhausted | OfferStatus::Cancelled => {
                    self.offers[provider] = None;
                    continue;
                }
            }
            for (task, kind) in TASK_TYPES.iter().enumerate() {
                if offer.task_types.as_slice().contains(&label(kind.name)) {
                    depth[task] += offer.capacity_units;
                }
            }
            self.offers[provider] = Some((id, Some(offer)));
        }
        Ok(depth)
    }

    async fn finish(mut self) -> Result<Outcome> {
        let head = chain_head(self.chain).await?;
        self.out.drain_rounds = self.round.saturating_sub(self.config.rounds);
        self.out.unsettled_assignments = self.jobs.len() as u64;
        self.out.open_requests = self.open_requests.len() as u64;
        self.out.final_height = head.height;
        self.out.final_time_ms = head.time_ms;
        self.out.final_state_root = hex::encode(state_root(self.chain).await?);
        self.out.tx_digest = hex::encode(self.tx_digest);
        self.out.providers = self
            .world
            .providers
            .iter()
            .enumerate()
            .map(|(index, p)| ProviderSummary {
                account: p.account.to_string(),
                pricing: match p.pricing {
                    Pricing::Aware => "aware".into(),
                    Pricing::Naive => "naive".into(),
                },
                offer_maker: p.offer_type.is_some(),
                capabilities: p.capabilities.iter().map(|c| c.to_string()).collect(),
                reliability: p.reliability,
                efficiency: p.efficiency,
                final_score: self.scores[index],
                final_margin: p.margin,
            })
            .collect();
        Ok(self.out)
    }
}
