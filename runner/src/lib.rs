//! The Agora node (`agora-runner`): the application boundary over the contract, the
//! mempool, the single-sequencer driver, the RocksDB store with the Merkle commitment, and
//! the HTTP API. See ARCHITECTURE.md for the data flow.

pub mod accounts;
pub mod api;
pub mod app;
pub mod genesis;
pub mod integrity;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod replay;
pub mod sequencer;
pub mod store;
