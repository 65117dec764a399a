//! Test harness shared by the contract's tests: a chain over `MemState` with named dev
//! keys, signing with correct nonces, block application with the invariants checked after
//! every block, and the data-driven `check` helper that runs a scenario and compares its
//! final balances and escrows with a snapshot.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agora_contract::block::{apply_block, init_chain, BlockOutcome, Genesis, TxStatus};
use agora_contract::escrow::{Escrow, EscrowStatus};
use agora_contract::event::{audit_head_of, EscrowEvent, Event, EventSource};
use agora_contract::market::{Assignment, Offer, OfferStatus, Request, RequestStatus};
use agora_contract::state::{keys, scan, MemState};
use agora_contract::tx::{account_of, SignedTx, UnsignedTx};
use agora_contract::wallet::{account_view, all_accounts, load_supply, AccountView};
use agora_contract::{
    AccountId, Action, Amount, BlockCtx, BoundedVec, CreateEscrow, EscrowKind, Label, TxError, Uuid,
};
use ed25519_dalek::SigningKey;

/// Block time of genesis; the first block comes one second later.
pub const GENESIS_MS: u64 = 1_700_000_000_000;
/// How far each `Step::Do` block advances the clock.
pub const BLOCK_MS: u64 = 1_000;
pub const CHAIN_ID: &str = "agora-test";

/// The named accounts of scenarios, by index into the dev keys.
pub const REQUESTER: usize = 0;
pub const PROVIDER: usize = 1;
pub const ARB1: usize = 2;
pub const ARB2: usize = 3;
pub const ARB3: usize = 4;
pub const OUTSIDER: usize = 5;
pub const MINTER: usize = 6;
pub const NAMES: [&str; 11] = [
    "requester",
    "provider",
    "arb1",
    "arb2",
    "arb3",
    "outsider",
    "minter",
    "p2",
    "p3",
    "p4",
    "p5",
];

/// The deterministic key of dev account `index`: seed = sha256("agora-dev" ‖ index).
pub fn dev_key(index: usize) -> SigningKey {
    let seed = agora_contract::ids::sha256(&[b"agora-dev", &(index as u64).to_be_bytes()]);
    SigningKey::from_bytes(&seed)
}

pub fn dev_id(index: usize) -> AccountId {
    account_of(&dev_key(index))
}

/// Absolute block time `offset_ms` after genesis.
pub fn at(offset_ms: u64) -> u64 {
    GENESIS_MS + offset_ms
}

pub fn escrow_id(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

/// A chain in memory with every invariant checked after each block.
pub struct Chain {
    pub state: MemState,
    pub chain_id: Label,
    pub height: u64,
    pub time_ms: u64,
    pub keys: Vec<SigningKey>,
    /// Every escrow event so far with its source, to recompute audit heads.
    pub escrow_events: BTreeMap<Uuid, Vec<(EventSource, EscrowEvent)>>,
    /// Every block applied, for replay checks.
    pub blocks: Vec<(BlockCtx, Vec<Vec<u8>>)>,
    pub genesis: Genesis,
}

impl Chain {
    /// A chain where dev account `i` starts with `balances[i]` and `MINTER` may mint.
    pub fn new(balances: &[u64]) -> Chain {
        let keys: Vec<SigningKey> = (0..NAMES.len().max(balances.len())).map(dev_key).collect();
        let allocations = balances
            .iter()
            .enumerate()
            .filter(|(_, amount)| **amount > 0)
            .map(|(i, amount)| (account_of(&keys[i]), Amount(*amount)))
            .collect();
        let genesis = Genesis {
            chain_id: Label::new(CHAIN_ID).unwrap(),
            genesis_time_ms: GENESIS_MS,
            mint_authority: Some(account_of(&keys[MINTER])),
            allocations,
        };
        let mut state = MemState::new();
        state.apply(&init_chain(&genesis).unwrap());
        Chain {
            state,
            chain_id: genesis.chain_id.clone(),
            height: 0,
            time_ms: GENESIS_MS,
            keys,
            escrow_events: BTreeMap::new(),
            blocks: Vec::new(),
            genesis,
        }
    }

    pub fn id(&self, index: usize) -> AccountId {
        account_of(&self.keys[index])
    }

    pub fn nonce(&self, index: usize) -> u64 {
        self.view(index).nonce
    }

    /// Signs `action` by `signer` with an explicit nonce.
    pub fn sign_with_nonce(&self, signer: usize, nonce: u64, action: Action) -> Vec<u8> {
        let unsigned = UnsignedTx {
            chain_id: self.chain_id.clone(),
            signer: self.id(signer),
            nonce,
            valid_until_height: None,
            action,
        };
        unsigned.sign(&self.keys[signer]).to_bytes()
    }

    /// Applies a block of raw transactions at `time_ms`, commits it, checks the invariants
    /// and returns what it did.
    pub fn block_at(&mut self, time_ms: u64, txs: Vec<Vec<u8>>) -> BlockOutcome {
        let ctx = BlockCtx {
            chain_id: self.chain_id.clone(),
            height: self.height + 1,
            time_ms,
            proposer: self.id(0),
        };
        let outcome = apply_block(&self.state, &ctx, &txs).expect("block applies");
        self.state.apply(&outcome.writes);
        self.height = ctx.height;
        self.time_ms = time_ms;
        let hook = EventSource::BlockHook { height: ctx.height };
        self.collect(hook, &outcome.hook_events);
        for receipt in &outcome.receipts {
            self.collect(
                EventSource::Tx {
                    hash: receipt.tx_hash,
                },
                &receipt.events,
            );
        }
        self.blocks.push((ctx, txs));
        self.check_invariants();
        outcome
    }

    fn collect(&mut self, source: EventSource, events: &[Event]) {
        for event in events {
            if let Event::Escrow { id, event } = event {
                self.escrow_events
                    .entry(*id)
                    .or_default()
                    .push((source, event.clone()));
            }
        }
    }

    /// Signs each `(signer, action)` with consecutive nonces per signer and applies them
    /// as one block `advance_ms` after the previous one.
    pub fn block(&mut self, advance_ms: u64, actions: Vec<(usize, Action)>) -> BlockOutcome {
        let mut next: BTreeMap<usize, u64> = BTreeMap::new();
        let txs = actions
            .into_iter()
            .map(|(signer, action)| {
                let nonce = *next.entry(signer).or_insert_with(|| self.nonce(signer));
                next.insert(signer, nonce + 1);
                self.sign_with_nonce(signer, nonce, action)
            })
            .collect();
        self.block_at(self.time_ms + advance_ms, txs)
    }

    /// One action in its own block; its result.
    pub fn exec(&mut self, signer: usize, action: Action) -> Result<Vec<Event>, TxError> {
        let outcome = self.block(BLOCK_MS, vec![(signer, action)]);
        let receipt = outcome.receipts.into_iter().next().unwrap();
        match receipt.status {
            TxStatus::Success => Ok(receipt.events),
            TxStatus::Failed(error) => Err(error),
        }
    }

    pub fn view(&self, index: usize) -> AccountView {
        account_view(&self.state, &self.id(index)).unwrap()
    }

    pub fn available(&self, index: usize) -> u64 {
        self.view(index).available.0
    }

    pub fn escrow(&self, id: Uuid) -> Escrow {
        agora_contract::escrow::load_escrow(&self.state, &id).unwrap()
    }

    pub fn escrows(&self) -> Vec<Escrow> {
        let (start, end) = keys::namespace(keys::NS_ESCROW);
        scan(&self.state, &start, &end)
            .map(|(_, value)| borsh::from_slice::<Escrow>(&value).unwrap())
            .collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        let (start, end) = keys::namespace(keys::NS_REQUEST);
        scan(&self.state, &start, &end)
            .map(|(_, value)| borsh::from_slice::<Request>(&value).unwrap())
            .collect()
    }

    pub fn assignments(&self) -> Vec<Assignment> {
        let (start, end) = keys::namespace(keys::NS_ASSIGNMENT);
        scan(&self.state, &start, &end)
            .map(|(_, value)| borsh::from_slice::<Assignment>(&value).unwrap())
            .collect()
    }

    pub fn offers(&self) -> Vec<Offer> {
        let (start, end) = keys::namespace(keys::NS_OFFER);
        scan(&self.state, &start, &end)
            .map(|(_, value)| borsh::from_slice::<Offer>(&value).unwrap())
            .collect()
    }

    /// The invariants of SPEC §4 and §5, checked after every block:
    /// Σ available + Σ escrow holdings = total minted; a terminal escrow holds zero and an
    /// open funded one holds exactly its amount; every open escrow has exactly one deadline
    /// entry at its wake time; every audit head matches its recomputed event chain.
    pub fn check_invariants(&self) {
        let supply = load_supply(&self.state).unwrap().total_minted.0 as u128;
        let available: u128 = all_accounts(&self.state)
            .unwrap()
            .iter()
            .map(|(_, a)| a.available.0 as u128)
            .sum();
        let escrows = self.escrows();
        let held: u128 = escrows.iter().map(|e| e.held.0 as u128).sum();
        let requests = self.requests();
        let reserved: u128 = requests.iter().map(|r| r.reserved.0 as u128).sum();
        assert_eq!(
            available + held + reserved,
            supply,
            "supply not conserved at height {}",
            self.height
        );

        let (start, end) = keys::namespace(keys::NS_DEADLINE);
        let deadline_entries: Vec<_> = scan(&self.state, &start, &end).map(|(k, _)| k).collect();
        let mut expected_entries = Vec::new();
        for escrow in &escrows {
            let expected_held = match escrow.status {
                EscrowStatus::Funded | EscrowStatus::Completed | EscrowStatus::Disputed => {
                    escrow.amount
                }
                _ => Amount::ZERO,
            };
            assert_eq!(
                escrow.held, expected_held,
                "escrow {} holds wrong amount",
                escrow.id
            );
            if let Some(wake_ms) = escrow.wake_ms() {
                // Only work completed after a time lock's release time may wait for the
                // next block's hook; everything else due was handled by this block's hook.
                let late_completion = escrow.status == EscrowStatus::Completed
                    && matches!(escrow.kind, EscrowKind::TimeLocked { .. });
                assert!(
                    wake_ms > self.time_ms || late_completion,
                    "escrow {} overdue after hook",
                    escrow.id
                );
                expected_entries.push(keys::deadline(wake_ms, keys::TAG_ESCROW, &escrow.id));
            }
            let events = self
                .escrow_events
                .get(&escrow.id)
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                escrow.audit_head,
                audit_head_of(&escrow.id, &events),
                "audit head"
            );
        }
        for request in &requests {
            let open = request.status == RequestStatus::Open;
            let unassigned = request.units - request.units_assigned;
            let expected = if open {
                request.bid_per_unit.0 * unassigned
            } else {
                0
            };
            assert_eq!(
                request.reserved.0, expected,
                "request {} reservation",
                request.id
            );
            assert!(
                request.units_assigned <= request.units,
                "request {} over-filled",
                request.id
            );
            assert!(request.providers.len() as u64 <= request.max_providers);
            if open {
                assert!(
                    request.window_ends_ms > self.time_ms,
                    "request {} overdue",
                    request.id
                );
                expected_entries.push(keys::deadline(
                    request.window_ends_ms,
                    keys::TAG_REQUEST,
                    &request.id,
                ));
            }
        }
        for assignment in self.assignments() {
            if let Some(wake_ms) = assignment.wake_ms() {
                assert!(
                    wake_ms > self.time_ms,
                    "assignment {} overdue",
                    assignment.id
                );
                expected_entries.push(keys::deadline(
                    wake_ms,
                    keys::TAG_ASSIGNMENT,
                    &assignment.id,
                ));
            }
            let escrow = self.escrow(assignment.id);
            assert_eq!(
                escrow.amount, assignment.cost,
                "assignment {} cost",
                assignment.id
            );
            if assignment.status.is_settled() {
                assert_eq!(
                    escrow.held,
                    Amount::ZERO,
                    "settled assignment {}",
                    assignment.id
                );
            }
        }
        for offer in self.offers() {
            if offer.status == OfferStatus::Open {
                assert!(
                    offer.capacity_units > 0,
                    "open offer {} without capacity",
                    offer.id
                );
                assert!(
                    offer.expires_at_ms > self.time_ms,
                    "offer {} overdue",
                    offer.id
                );
                expected_entries.push(keys::deadline(
                    offer.expires_at_ms,
                    keys::TAG_OFFER,
                    &offer.id,
                ));
            }
        }
        expected_entries.sort();
        assert_eq!(
            deadline_entries, expected_entries,
            "deadline index out of sync"
        );
    }

    /// The final state as text: every named account and every escrow.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (index, name) in NAMES.iter().enumerate() {
            let view = self.view(index);
            if view == AccountView::default() {
                continue;
            }
            writeln!(
                out,
                "{name}: available={} locked={} nonce={}",
                view.available, view.locked, view.nonce
            )
            .unwrap();
        }
        for request in self.requests() {
            writeln!(
                out,
                "request {}: {:?} assigned={}/{} reserved={} providers={}",
                request.id.as_bytes()[0],
                request.status,
                request.units_assigned,
                request.units,
                request.reserved,
                request.providers.len()
            )
            .unwrap();
        }
        for offer in self.offers() {
            writeln!(
                out,
                "offer {}: {:?} capacity={} ask={}",
                offer.id.as_bytes()[0],
                offer.status,
                offer.capacity_units,
                offer.ask_per_unit
            )
            .unwrap();
        }
        for escrow in self.escrows() {
            writeln!(
                out,
                "escrow {}: {:?} held={} amount={}",
                escrow.id.as_bytes()[0],
                escrow.status,
                escrow.held,
                escrow.amount
            )
            .unwrap();
        }
        out
    }

    /// Replays every block on a fresh genesis and returns the final state.
    pub fn replay(&self) -> MemState {
        let mut state = MemState::new();
        state.apply(&init_chain(&self.genesis).unwrap());
        for (ctx, txs) in &self.blocks {
            let outcome = apply_block(&state, ctx, txs).unwrap();
            state.apply(&outcome.writes);
        }
        state
    }
}

/// What a scenario step expects of its transaction.
#[derive(Clone, Debug)]
pub enum Expect {
    Ok,
    /// Fails with the error of this stable code.
    Err(u16),
}

pub fn ok() -> Expect {
    Expect::Ok
}

pub fn err(error: TxError) -> Expect {
    Expect::Err(error.code())
}

/// One step of a scenario. (Steps are built once per test; boxing actions would only
/// make scenarios harder to read.)
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// One transaction in its own block, `BLOCK_MS` after the previous block.
    Do(usize, Action, Expect),
    /// Several transactions in one block, in order.
    Block(Vec<(usize, Action, Expect)>),
    /// An empty block `ms` after the previous one: only the timeout hook runs.
    Wait(u64),
    /// An empty block at an absolute time.
    WaitUntil(u64),
}

pub fn step(signer: usize, action: Action, expect: Expect) -> Step {
    Step::Do(signer, action, expect)
}

/// Runs `steps` on a chain with `balances`, asserting each transaction's expected result
/// and the invariants after every block, and returns the chain for further checks.
pub fn run(balances: &[u64], steps: &[Step]) -> Chain {
    let mut chain = Chain::new(balances);
    for (n, step) in steps.iter().enumerate() {
        let (outcome, expects) = match step {
            Step::Do(signer, action, expect) => (
                chain.block(BLOCK_MS, vec![(*signer, action.clone())]),
                vec![expect.clone()],
            ),
            Step::Block(items) => {
                let actions = items.iter().map(|(s, a, _)| (*s, a.clone())).collect();
                let expects = items.iter().map(|(_, _, e)| e.clone()).collect();
                (chain.block(BLOCK_MS, actions), expects)
            }
            Step::Wait(ms) => (chain.block(*ms, vec![]), vec![]),
            Step::WaitUntil(time_ms) => (chain.block_at(*time_ms, vec![]), vec![]),
        };
        for (receipt, expect) in outcome.receipts.iter().zip(&expects) {
            match (&receipt.status, expect) {
                (TxStatus::Success, Expect::Ok) => {}
                (TxStatus::Failed(error), Expect::Err(code)) if error.code() == *code => {}
                (status, expect) => {
                    panic!("step {n} ({step:?}): expected {expect:?}, got {status:?}")
                }
            }
        }
    }
    chain
}

/// The data-driven scenario check: run the steps, then compare the final accounts and
/// escrows with the snapshot (`UPDATE_EXPECT=1` rewrites snapshots after a reviewed change).
pub fn check(balances: &[u64], steps: &[Step], expect: expect_test::Expect) -> Chain {
    let chain = run(balances, steps);
    expect.assert_eq(&chain.summary());
    chain
}

// ---- action builders ----

/// A `CreateEscrow` with the scenario defaults: requester → provider, deadline one hour
/// after genesis, default dispute window, no arbitrators, not funded.
pub fn create(n: u8, amount: u64, kind: EscrowKind) -> CreateEscrow {
    CreateEscrow {
        id: escrow_id(n),
        provider: dev_id(PROVIDER),
        amount: Amount(amount),
        kind,
        arbitrators: BoundedVec::empty(),
        deadline_ms: at(3_600_000),
        dispute_window_ms: Some(600_000),
        job_ref: [7; 32],
        fund: false,
    }
}

pub trait CreateExt {
    fn funded(self) -> Self;
    fn arbitrators(self, who: &[usize]) -> Self;
    fn deadline(self, deadline_ms: u64) -> Self;
    fn window(self, dispute_window_ms: Option<u64>) -> Self;
    fn provider(self, who: usize) -> Self;
    fn action(self) -> Action;
}

impl CreateExt for CreateEscrow {
    fn funded(mut self) -> Self {
        self.fund = true;
        self
    }
    fn arbitrators(mut self, who: &[usize]) -> Self {
        self.arbitrators = BoundedVec::new(who.iter().map(|i| dev_id(*i)).collect()).unwrap();
        self
    }
    fn deadline(mut self, deadline_ms: u64) -> Self {
        self.deadline_ms = deadline_ms;
        self
    }
    fn window(mut self, dispute_window_ms: Option<u64>) -> Self {
        self.dispute_window_ms = dispute_window_ms;
        self
    }
    fn provider(mut self, who: usize) -> Self {
        self.provider = dev_id(who);
        self
    }
    fn action(self) -> Action {
        Action::CreateEscrow(self)
    }
}

pub fn fund(n: u8) -> Action {
    Action::FundEscrow { id: escrow_id(n) }
}

pub fn complete(n: u8) -> Action {
    Action::MarkCompleted {
        id: escrow_id(n),
        result_hash: [9; 32],
    }
}

pub fn approve(n: u8, decision: agora_contract::Decision) -> Action {
    Action::Approve {
        id: escrow_id(n),
        decision,
    }
}

pub fn dispute(n: u8) -> Action {
    Action::RaiseDispute {
        id: escrow_id(n),
        reason_hash: [5; 32],
        evidence: BoundedVec::new(vec![agora_contract::Cid::new("bafy-reason").unwrap()]).unwrap(),
    }
}

pub fn evidence(n: u8, cid: &str) -> Action {
    Action::AddEvidence {
        id: escrow_id(n),
        cid: agora_contract::Cid::new(cid).unwrap(),
    }
}

pub fn resolve(n: u8, outcome: agora_contract::Outcome) -> Action {
    Action::Resolve {
        id: escrow_id(n),
        outcome,
    }
}

pub fn transfer(to: usize, amount: u64) -> Action {
    Action::Transfer {
        to: dev_id(to),
        amount: Amount(amount),
    }
}

pub fn mint(to: usize, amount: u64) -> Action {
    Action::Mint {
        to: dev_id(to),
        amount: Amount(amount),
    }
}

/// Decodes a signed transaction (for tests that tamper with bytes).
pub fn decode(bytes: &[u8]) -> SignedTx {
    SignedTx::decode(bytes).unwrap()
}
