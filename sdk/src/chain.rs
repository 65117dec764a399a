//! The interface shared by the HTTP [`crate::Client`] and the in-process
//! [`crate::TestChain`]: submit signed transactions, wait for receipts, read state (raw or
//! typed), fetch proofs, and drive blocks and time where the chain allows it.

use agora_contract::block::{Receipt, TxStatus};
use agora_contract::bounded::Label;
use agora_contract::commit::StateProof;
use agora_contract::escrow::Escrow;
use agora_contract::header::SignedHeader;
use agora_contract::ids::{AccountId, Hash, Uuid};
use agora_contract::market::{Assignment, Offer, Provider, Request};
use agora_contract::state::keys;
use agora_contract::tx::SignedTx;
use agora_contract::wallet::Account;
use agora_contract::TxError;
use borsh::BorshDeserialize;

use crate::error::{Error, Result};
use crate::keys::Keypair;
use crate::txs::TxBuilder;

/// A transaction in a committed block, with its receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedTx {
    pub hash: Hash,
    pub height: u64,
    pub index: u32,
    pub receipt: Receipt,
}

impl CommittedTx {
    /// Whether the action succeeded.
    pub fn success(&self) -> bool {
        self.receipt.status == TxStatus::Success
    }

    /// The typed error of a failed action.
    pub fn error(&self) -> Option<&TxError> {
        match &self.receipt.status {
            TxStatus::Success => None,
            TxStatus::Failed(error) => Some(error),
        }
    }
}

/// A state value (or its absence) at a height, with the proof and the signed header.
/// Check it with [`crate::LightClient::verify`] before trusting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenValue {
    pub key: Vec<u8>,
    pub height: u64,
    pub value: Option<Vec<u8>>,
    pub proof: StateProof,
    pub header: SignedHeader,
}

fn decode<T: BorshDeserialize>(bytes: Option<Vec<u8>>) -> Result<Option<T>> {
    bytes
        .map(|bytes| {
            borsh::from_slice::<T>(&bytes)
                .map_err(|error| Error::Protocol(format!("state value does not decode: {error}")))
        })
        .transpose()
}

/// A chain the SDK can drive.
#[allow(async_fn_in_trait)]
pub trait Chain {
    /// The chain id transactions must name.
    async fn chain_id(&self) -> Result<Label>;
    /// The sequencer key headers are signed with.
    async fn sequencer(&self) -> Result<AccountId>;
    /// Last committed height.
    async fn height(&self) -> Result<u64>;
    /// Submits a signed transaction; answers its hash once admitted.
    async fn submit(&self, tx: &SignedTx) -> Result<Hash>;
    /// Waits until a submitted transaction is committed.
    async fn wait(&self, hash: &Hash) -> Result<CommittedTx>;
    /// A state value at the latest height.
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// A state value with its proof at `height` (latest if `None`).
    async fn prove(&self, key: &[u8], height: Option<u64>) -> Result<ProvenValue>;
    /// Produces `blocks` blocks now (devnet and test chain only).
    async fn mine(&self, blocks: u32) -> Result<()>;
    /// Moves block time forward by `ms` (devnet and test chain only).
    async fn advance_time(&self, ms: u64) -> Result<()>;

    /// Submits and waits for the receipt.
    async fn submit_and_wait(&self, tx: &SignedTx) -> Result<CommittedTx> {
        let hash = self.submit(tx).await?;
        self.wait(&hash).await
    }

    /// An account record (zero balance and nonce if it has none).
    async fn account(&self, account: &AccountId) -> Result<Account> {
        Ok(decode::<Account>(self.get(&keys::account(account)).await?)?.unwrap_or_default())
    }

    /// The nonce the account's next transaction must use (from committed state).
    async fn next_nonce(&self, account: &AccountId) -> Result<u64> {
        Ok(self.account(account).await?.nonce)
    }

    /// A builder for `key` starting at its committed nonce.
    async fn builder(&self, key: Keypair) -> Result<TxBuilder> {
        let nonce = self.next_nonce(&key.account()).await?;
        Ok(TxBuilder::new(self.chain_id().await?, key, nonce))
    }

    async fn escrow(&self, id: &Uuid) -> Result<Option<Escrow>> {
        decode(self.get(&keys::escrow(id)).await?)
    }

    async fn request(&self, id: &Uuid) -> Result<Option<Request>> {
        decode(self.get(&keys::request(id)).await?)
    }

    async fn offer(&self, id: &Uuid) -> Result<Option<Offer>> {
        decode(self.get(&keys::offer(id)).await?)
    }

    async fn assignment(&self, id: &Uuid) -> Result<Option<Assignment>> {
        decode(self.get(&keys::assignment(id)).await?)
    }

    async fn provider(&self, account: &AccountId) -> Result<Option<Provider>> {
        decode(self.get(&keys::provider(account)).await?)
    }
}
