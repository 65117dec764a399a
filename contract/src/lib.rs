//! Agora's state machine: the transaction envelope, the wallet, the escrow and the compute
//! market, as pure
//! functions from (state view, block context, transaction) to (writes, events, receipt).
//!
//! This crate does no IO, reads no clock, draws no randomness, uses no floats and no
//! hash-ordered collections, and never panics on any input; every arithmetic operation is
//! checked. It builds for `thumbv7m-none-eabi`. The runner backs [`state::StateView`] with
//! RocksDB; tests and the SDK's in-process chain back it with [`state::MemState`].

#![no_std]
#![deny(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::float_arithmetic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_types
)]

extern crate alloc;

pub mod action;
pub mod amount;
pub mod block;
pub mod bounded;
pub mod codec;
pub mod commit;
pub mod context;
pub mod error;
pub mod escrow;
pub mod event;
pub mod header;
pub mod ids;
pub mod market;
#[cfg(feature = "serde")]
mod serde_hex;
pub mod sig;
pub mod state;
pub mod tx;
pub mod wallet;

pub use action::{Action, CreateEscrow, PostRequest};
pub use amount::Amount;
pub use block::{apply_block, init_chain, BlockOutcome, Genesis, Receipt, TxStatus};
pub use bounded::{BoundedVec, Cid, Label};
pub use context::BlockCtx;
pub use error::TxError;
pub use escrow::{Decision, Escrow, EscrowKind, EscrowStatus, Outcome};
pub use event::{EscrowEvent, Event, EventSource};
pub use ids::{AccountId, Hash, Uuid};
pub use tx::{SignedTx, UnsignedTx};
