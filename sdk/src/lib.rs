//! The Agora SDK: keys, transaction builders, an HTTP client for the node, a light client
//! that verifies headers and state proofs with the contract's own commitment code,
//! payload encryption for private and confidential requests, and an in-process test
//! chain with the same interface as the client.

pub mod chain;
pub mod client;
pub mod error;
pub mod keys;
pub mod light;
pub mod payload;
pub mod testchain;
pub mod txs;

pub use chain::{Chain, CommittedTx, ProvenValue};
pub use client::Client;
pub use error::{Error, Result};
pub use keys::Keypair;
pub use light::LightClient;
pub use testchain::TestChain;
pub use txs::TxBuilder;
