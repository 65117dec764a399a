//! Block application: genesis, then per block the timeout hook followed by each transaction
//! in order. Checks run stateless → stateful → execution: size and decoding, signature,
//! chain id, nonce, expiry, then the action. An envelope failure changes nothing; an action
//! failure consumes the nonce and records a failed receipt; a success commits its writes.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::action::Action;
use crate::amount::Amount;
use crate::bounded::Label;
use crate::context::{BlockCtx, Env};
use crate::error::TxError;
use crate::escrow;
use crate::event::{Event, EventSource};
use crate::ids::{AccountId, Hash};
use crate::market;
use crate::state::{keys, load, Changes, StateView, WriteSet};
use crate::tx::SignedTx;
use crate::wallet::{self, ChainConfig, Supply};

/// The chain's starting point.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Genesis {
    pub chain_id: Label,
    /// Block time of genesis; the first block must be later.
    pub genesis_time_ms: u64,
    pub mint_authority: Option<AccountId>,
    /// Initial balances; each account at most once.
    pub allocations: Vec<(AccountId, Amount)>,
}

/// Why a genesis was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("account {0} is allocated more than once")]
    DuplicateAllocation(AccountId),
    #[error("allocations sum to more than the largest amount")]
    SupplyOverflow,
}

/// The last applied block, kept in state so heights and times can only move forward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChainHead {
    pub height: u64,
    pub time_ms: u64,
}

/// Whether a transaction did what it asked.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TxStatus {
    Success,
    Failed(TxError),
}

/// The result of one transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Receipt {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub tx_hash: Hash,
    pub status: TxStatus,
    /// Whether the signer's nonce was consumed (false only for envelope failures).
    pub nonce_consumed: bool,
    pub events: Vec<Event>,
}

/// Everything a block did: the hook's events, a receipt per transaction, and the state
/// writes to commit as one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    pub hook_events: Vec<Event>,
    pub receipts: Vec<Receipt>,
    pub writes: WriteSet,
}

/// Why a block could not be applied at all. Any of these halts the chain rather than
/// committing a wrong state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block height {found} does not follow {previous}")]
    HeightNotNext { previous: u64, found: u64 },
    #[error("block time {found} ms is not after the previous block's {previous} ms")]
    TimeNotIncreasing { previous: u64, found: u64 },
    #[error("block is for chain {found}, state is chain {expected}")]
    WrongChain { expected: Label, found: Label },
    #[error("block hook failed: {0}")]
    Hook(TxError),
}

/// The state writes of a genesis: config, supply, the chain head at height 0 and the
/// allocated accounts.
pub fn init_chain(genesis: &Genesis) -> Result<WriteSet, GenesisError> {
    let empty = crate::state::MemState::new();
    let mut changes = Changes::new(&empty);
    let mut total = Amount::ZERO;
    for (account, amount) in &genesis.allocations {
        if changes.get(&keys::account(account)).is_some() {
            return Err(GenesisError::DuplicateAllocation(*account));
        }
        total = total
            .checked_add(*amount)
            .map_err(|_| GenesisError::SupplyOverflow)?;
        let record = wallet::Account {
            available: *amount,
            nonce: 0,
        };
        changes.put(keys::account(account), &record);
    }
    let config = ChainConfig {
        chain_id: genesis.chain_id.clone(),
        mint_authority: genesis.mint_authority,
    };
    changes.put(keys::chain_config(), &config);
    changes.put(
        keys::supply(),
        &Supply {
            total_minted: total,
        },
    );
    changes.put(
        keys::chain_head(),
        &ChainHead {
            height: 0,
            time_ms: genesis.genesis_time_ms,
        },
    );
    Ok(changes.into_parts().0)
}

/// Applies one block to `view`: checks the header fields against the chain head, runs the
/// timeout hook, then every transaction. Returns the writes without committing them.
pub fn apply_block(
    view: &dyn StateView,
    ctx: &BlockCtx,
    txs: &[Vec<u8>],
) -> Result<BlockOutcome, BlockError> {
    apply_block_with(view, ctx, txs, &[])
}

/// [`apply_block`] for a driver that has already checked signatures: `verified[i]` true
/// means the driver ran [`SignedTx::verify_signature`] on exactly `txs[i]` and it passed,
/// so it is not run again. Indices beyond `verified` are checked here. The result is the
/// same as [`apply_block`]'s for truthful flags; replay passes none and checks everything.
pub fn apply_block_with(
    view: &dyn StateView,
    ctx: &BlockCtx,
    txs: &[Vec<u8>],
    verified: &[bool],
) -> Result<BlockOutcome, BlockError> {
    let opened = begin_block(view, ctx)?;
    let mut block = Changes::with_writes(view, opened.writes);
    let receipts = txs
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            let checked = verified.get(index).copied().unwrap_or(false);
            apply_tx_with(&mut block, ctx, bytes, checked)
        })
        .collect();
    Ok(BlockOutcome {
        hook_events: opened.hook_events,
        receipts,
        writes: block.into_parts().0,
    })
}

/// The start of a block, before its transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedBlock {
    /// The new chain head and the timeout hook's writes.
    pub writes: WriteSet,
    pub hook_events: Vec<Event>,
}

/// The first step of [`apply_block_with`]: checks the block's height, time and chain
/// against the chain head, records the new head and runs the timeout hook. A driver that
/// executes a block in steps continues with [`Changes::with_writes`] over the returned
/// writes and [`apply_tx_with`] per transaction; the result equals [`apply_block_with`]'s.
pub fn begin_block(view: &dyn StateView, ctx: &BlockCtx) -> Result<OpenedBlock, BlockError> {
    let head = load::<ChainHead>(view, &keys::chain_head())
        .map_err(BlockError::Hook)?
        .unwrap_or_default();
    if head.height.checked_add(1) != Some(ctx.height) {
        return Err(BlockError::HeightNotNext {
            previous: head.height,
            found: ctx.height,
        });
    }
    if ctx.time_ms <= head.time_ms {
        return Err(BlockError::TimeNotIncreasing {
            previous: head.time_ms,
            found: ctx.time_ms,
        });
    }
    let config = wallet::load_config(view).map_err(BlockError::Hook)?;
    if config.chain_id != ctx.chain_id {
        return Err(BlockError::WrongChain {
            expected: config.chain_id,
            found: ctx.chain_id.clone(),
        });
    }

    let mut block = Changes::new(view);
    block.put(
        keys::chain_head(),
        &ChainHead {
            height: ctx.height,
            time_ms: ctx.time_ms,
        },
    );
    let hook_events = run_timeouts(&mut block, ctx).map_err(BlockError::Hook)?;
    Ok(OpenedBlock {
        writes: block.into_parts().0,
        hook_events,
    })
}

/// The timeout hook: handles every deadline-index entry due at or before the block time,
/// in (deadline, id) order. Cost is proportional to the entries that fire.
fn run_timeouts(block: &mut Changes, ctx: &BlockCtx) -> Result<Vec<Event>, TxError> {
    let mut hook = Changes::new(block);
    // Handlers only ever add entries for wake times after the block time (each one ends
    // its object terminal, or moves its wake strictly past now), so the cursor moves
    // forward past each handled entry and no entry is read twice.
    let mut start = alloc::vec![keys::NS_DEADLINE];
    let end = match ctx.time_ms.checked_add(1) {
        Some(after) => keys::deadline(after, 0, &crate::ids::Uuid::nil()),
        None => alloc::vec![keys::NS_DEADLINE.saturating_add(1)],
    };
    let source = EventSource::BlockHook { height: ctx.height };
    while let Some((key, _)) = hook.first_in_range(&start, &end) {
        match keys::parse_deadline(&key) {
            Some((keys::TAG_ESCROW, id)) => {
                escrow::on_deadline(&mut hook, source, &id, ctx.time_ms)?
            }
            Some((keys::TAG_REQUEST, id)) => {
                market::on_request_window_end(&mut hook, &id, ctx.time_ms)?
            }
            Some((keys::TAG_OFFER, id)) => market::on_offer_expiry(&mut hook, &id, ctx.time_ms)?,
            Some((keys::TAG_ASSIGNMENT, id)) => {
                market::on_assignment_deadline(&mut hook, source, &id, ctx.time_ms)?
            }
            _ => return Err(TxError::StateCorrupt),
        }
        // Each handler removes the entry it fired for; if not, stop rather than loop.
        if hook.get(&key).is_some() {
            return Err(TxError::StateCorrupt);
        }
        start = key;
        start.push(0);
    }
    let (writes, events) = hook.into_parts();
    block.absorb(writes);
    Ok(events)
}

/// Applies one transaction's bytes within the block's buffer and returns its receipt.
pub fn apply_tx(block: &mut Changes, ctx: &BlockCtx, bytes: &[u8]) -> Receipt {
    apply_tx_with(block, ctx, bytes, false)
}

/// [`apply_tx`], skipping the signature check when `signature_verified` (see
/// [`apply_block_with`]).
pub fn apply_tx_with(
    block: &mut Changes,
    ctx: &BlockCtx,
    bytes: &[u8],
    signature_verified: bool,
) -> Receipt {
    let tx_hash = crate::ids::sha256(&[bytes]);
    let failed = |error| Receipt {
        tx_hash,
        status: TxStatus::Failed(error),
        nonce_consumed: false,
        events: Vec::new(),
    };
    let tx = match SignedTx::decode(bytes) {
        Ok(tx) => tx,
        Err(error) => return failed(error),
    };
    let account = match check_envelope(block, ctx, &tx, signature_verified) {
        Ok(account) => account,
        Err(error) => return failed(error),
    };

    // The nonce is consumed whatever the action does.
    let mut bumped = account;
    bumped.nonce = account.nonce.saturating_add(1);
    block.put(keys::account(&tx.tx.signer), &bumped);

    let env = Env {
        block: ctx,
        signer: tx.tx.signer,
        source: EventSource::Tx { hash: tx_hash },
    };
    let mut action_changes = Changes::new(block);
    match execute(&mut action_changes, &env, &tx.tx.action) {
        Ok(()) => {
            let (writes, events) = action_changes.into_parts();
            block.absorb(writes);
            Receipt {
                tx_hash,
                status: TxStatus::Success,
                nonce_consumed: true,
                events,
            }
        }
        Err(error) => Receipt {
            tx_hash,
            status: TxStatus::Failed(error),
            nonce_consumed: true,
            events: Vec::new(),
        },
    }
}

/// Signature, chain id, nonce, expiry — in that order. Returns the signer's account.
fn check_envelope(
    view: &dyn StateView,
    ctx: &BlockCtx,
    tx: &SignedTx,
    signature_verified: bool,
) -> Result<wallet::Account, TxError> {
    if !signature_verified {
        tx.verify_signature()?;
    }
    if tx.tx.chain_id != ctx.chain_id {
        return Err(TxError::WrongChain);
    }
    let account = wallet::load_account(view, &tx.tx.signer)?;
    if tx.tx.nonce != account.nonce {
        return Err(TxError::BadNonce {
            expected: account.nonce,
            found: tx.tx.nonce,
        });
    }
    if account.nonce == u64::MAX {
        return Err(TxError::ArithmeticOverflow);
    }
    tx.check_expiry(ctx.height)?;
    Ok(account)
}

/// Dispatches an action to its transition. Nothing else happens here.
fn execute(changes: &mut Changes, env: &Env, action: &Action) -> Result<(), TxError> {
    match action {
        Action::Transfer { to, amount } => wallet::execute_transfer(changes, env, *to, *amount),
        Action::Mint { to, amount } => wallet::execute_mint(changes, env, *to, *amount),
        Action::CreateEscrow(create) => escrow::execute_create_escrow(changes, env, create),
        Action::FundEscrow { id } => escrow::execute_fund_escrow(changes, env, id),
        Action::MarkCompleted { id, result_hash } => {
            escrow::execute_mark_completed(changes, env, id, *result_hash)
        }
        Action::Approve { id, decision } => escrow::execute_approve(changes, env, id, *decision),
        Action::RaiseDispute {
            id,
            reason_hash,
            evidence,
        } => escrow::execute_raise_dispute(changes, env, id, *reason_hash, evidence),
        Action::AddEvidence { id, cid } => escrow::execute_add_evidence(changes, env, id, cid),
        Action::Resolve { id, outcome } => escrow::execute_resolve(changes, env, id, *outcome),
        Action::RegisterProvider { capabilities } => {
            market::execute_register_provider(changes, env, capabilities)
        }
        Action::PostOffer {
            id,
            task_types,
            ask_per_unit,
            capacity_units,
            expires_at_ms,
        } => market::execute_post_offer(
            changes,
            env,
            id,
            task_types,
            *ask_per_unit,
            *capacity_units,
            *expires_at_ms,
        ),
        Action::CancelOffer { id } => market::execute_cancel_offer(changes, env, id),
        Action::PostRequest(post) => market::execute_post_request(changes, env, post),
        Action::AcceptRequest {
            request_id,
            ask_per_unit,
        } => market::execute_accept_request(changes, env, request_id, *ask_per_unit),
        Action::CancelRequest { id } => market::execute_cancel_request(changes, env, id),
        Action::StartTask { assignment_id } => {
            market::execute_start_task(changes, env, assignment_id)
        }
        Action::SubmitResult {
            assignment_id,
            result_hash,
        } => market::execute_submit_result(changes, env, assignment_id, *result_hash),
        Action::RateResult {
            assignment_id,
            scores,
        } => market::execute_rate_result(changes, env, assignment_id, scores),
        Action::DeliverPayload {
            assignment_id,
            ciphertext,
        } => market::privacy::execute_deliver_payload(changes, env, assignment_id, ciphertext),
    }
}
