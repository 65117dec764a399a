//! What a transition knows about where it runs: the block (supplied by the driver, never
//! read from a clock) and, for actions, the verified signer and the transaction hash.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::bounded::Label;
use crate::event::EventSource;
use crate::ids::AccountId;

/// The block being applied. Height and time come from the consensus driver; time is unix
/// milliseconds and strictly increases from block to block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BlockCtx {
    pub chain_id: Label,
    pub height: u64,
    pub time_ms: u64,
    pub proposer: AccountId,
}

/// The context of one action: its block, its verified signer and its source for events.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    pub block: &'a BlockCtx,
    pub signer: AccountId,
    pub source: EventSource,
}

impl Env<'_> {
    pub fn now_ms(&self) -> u64 {
        self.block.time_ms
    }
}
