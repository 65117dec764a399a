//! An in-process chain for tests: the contract and the commitment without HTTP or RocksDB,
//! behind the same [`Chain`] interface as the HTTP client. Every submitted transaction is
//! committed in its own block at once (like a devnet in instant mode) unless
//! [`TestChain::manual`] is set; time moves 1 s per block plus whatever
//! [`Chain::advance_time`] adds. Headers are signed with the devnet's sequencer key and
//! proofs are served at the latest height.

use std::collections::BTreeMap;
use std::sync::Mutex;

use agora_contract::block::{apply_block, init_chain, Genesis};
use agora_contract::bounded::Label;
use agora_contract::commit::{list_root, StateTree};
use agora_contract::context::BlockCtx;
use agora_contract::header::{Header, SignedHeader, HEADER_VERSION};
use agora_contract::ids::{sha256, AccountId, Hash};
use agora_contract::state::{MemState, StateView};
use agora_contract::tx::{account_of, SignedTx};
use agora_contract::Amount;
use ed25519_dalek::SigningKey;

use crate::chain::{Chain, CommittedTx, ProvenValue};
use crate::error::{Error, Result};
use crate::keys::Keypair;

/// Block time step of the test chain.
pub const BLOCK_TIME_MS: u64 = 1_000;

struct Inner {
    state: MemState,
    tree: StateTree,
    header: SignedHeader,
    time_offset_ms: u64,
    pending: Vec<Vec<u8>>,
    committed: BTreeMap<Hash, CommittedTx>,
    manual: bool,
}

/// The in-process chain.
pub struct TestChain {
    chain_id: Label,
    sequencer: SigningKey,
    inner: Mutex<Inner>,
}

impl TestChain {
    /// A chain like the devnet's: chain id `agora-devnet`, dev accounts 0–9 funded with
    /// 1 000 000 000 000 each, dev account 0 the mint authority.
    pub fn devnet() -> TestChain {
        let allocations = (0..10)
            .map(|index| (Keypair::dev(index).account(), Amount(1_000_000_000_000)))
            .collect();
        TestChain::new(Genesis {
            chain_id: Label::new("agora-devnet").unwrap_or_else(|| unreachable!("valid label")),
            genesis_time_ms: 1_767_225_600_000,
            mint_authority: Some(Keypair::dev(0).account()),
            allocations,
        })
        .unwrap_or_else(|error| unreachable!("the devnet genesis is valid: {error}"))
    }

    /// A chain from any genesis.
    pub fn new(genesis: Genesis) -> Result<TestChain> {
        let sequencer = SigningKey::from_bytes(&sha256(&[b"agora-devnet-sequencer"]));
        let writes = init_chain(&genesis).map_err(|error| Error::Chain(error.to_string()))?;
        let mut state = MemState::new();
        state.apply(&writes);
        let mut tree = StateTree::new();
        tree.apply(writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
        let (state_root, _) = tree.commit();
        let header = Header {
            version: HEADER_VERSION,
            chain_id: genesis.chain_id.clone(),
            height: 0,
            prev_hash: [0; 32],
            time_ms: genesis.genesis_time_ms,
            tx_count: 0,
            tx_root: list_root::<Hash>(&[]),
            receipts_root: list_root::<Vec<u8>>(&[]),
            hook_events_hash: agora_contract::header::hook_events_hash(&[]),
            state_root,
            proposer: account_of(&sequencer),
        }
        .sign(&sequencer);
        Ok(TestChain {
            chain_id: genesis.chain_id,
            sequencer,
            inner: Mutex::new(Inner {
                state,
                tree,
                header,
                time_offset_ms: 0,
                pending: Vec::new(),
                committed: BTreeMap::new(),
                manual: false,
            }),
        })
    }

    /// In manual mode submitted transactions wait for [`Chain::mine`].
    pub fn manual(self, manual: bool) -> TestChain {
        self.lock().manual = manual;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest signed header.
    pub fn header(&self) -> SignedHeader {
        self.lock().header.clone()
    }

    /// Produces one block with every pending transaction.
    fn produce(&self, inner: &mut Inner) -> Result<u64> {
        let previous = &inner.header.header;
        let height = previous.height.saturating_add(1);
        let time_ms = previous
            .time_ms
            .saturating_add(BLOCK_TIME_MS)
            .saturating_add(std::mem::take(&mut inner.time_offset_ms));
        let ctx = BlockCtx {
            chain_id: self.chain_id.clone(),
            height,
            time_ms,
            proposer: account_of(&self.sequencer),
        };
        let txs = std::mem::take(&mut inner.pending);
        let outcome = apply_block(&inner.state, &ctx, &txs)
            .map_err(|error| Error::Chain(error.to_string()))?;
        inner.state.apply(&outcome.writes);
        inner.tree.apply(
            outcome
                .writes
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_deref())),
        );
        let (state_root, _) = inner.tree.commit();
        let tx_hashes: Vec<Hash> = outcome.receipts.iter().map(|r| r.tx_hash).collect();
        let receipts: Vec<Vec<u8>> = outcome
            .receipts
            .iter()
            .map(|r| borsh::to_vec(r).unwrap_or_default())
            .collect();
        let header = Header {
            version: HEADER_VERSION,
            chain_id: self.chain_id.clone(),
            height,
            prev_hash: previous.hash(),
            time_ms,
            tx_count: u32::try_from(txs.len()).unwrap_or(u32::MAX),
            tx_root: list_root(&tx_hashes),
            receipts_root: list_root(&receipts),
            hook_events_hash: agora_contract::header::hook_events_hash(&outcome.hook_events),
            state_root,
            proposer: account_of(&self.sequencer),
        }
        .sign(&self.sequencer);
        inner.header = header;
        for (index, receipt) in outcome.receipts.into_iter().enumerate() {
            inner.committed.insert(
                receipt.tx_hash,
                CommittedTx {
                    hash: receipt.tx_hash,
                    height,
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    receipt,
                },
            );
        }
        Ok(height)
    }
}

impl Chain for TestChain {
    async fn chain_id(&self) -> Result<Label> {
        Ok(self.chain_id.clone())
    }

    async fn sequencer(&self) -> Result<AccountId> {
        Ok(account_of(&self.sequencer))
    }

    async fn height(&self) -> Result<u64> {
        Ok(self.lock().header.header.height)
    }

    async fn submit(&self, tx: &SignedTx) -> Result<Hash> {
        let bytes = tx.to_bytes();
        let hash = sha256(&[&bytes]);
        // The same checks a node makes before admission.
        let height = self.lock().header.header.height.saturating_add(1);
        tx.check_stateless(&self.chain_id, height)
            .map_err(|error| Error::Node {
                status: 400,
                code: error.code(),
                name: error.name().into(),
                message: error.to_string(),
            })?;
        let mut inner = self.lock();
        if inner.committed.contains_key(&hash) || inner.pending.contains(&bytes) {
            return Ok(hash);
        }
        inner.pending.push(bytes);
        if !inner.manual {
            self.produce(&mut inner)?;
        }
        Ok(hash)
    }

    async fn wait(&self, hash: &Hash) -> Result<CommittedTx> {
        self.lock().committed.get(hash).cloned().ok_or_else(|| {
            Error::Protocol(format!(
                "transaction {} is not committed",
                hex::encode(hash)
            ))
        })
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().state.get(key))
    }

    async fn prove(&self, key: &[u8], height: Option<u64>) -> Result<ProvenValue> {
        let inner = self.lock();
        let latest = inner.header.header.height;
        if height.is_some_and(|height| height != latest) {
            return Err(Error::Protocol(
                "the test chain proves the latest height only".into(),
            ));
        }
        Ok(ProvenValue {
            key: key.to_vec(),
            height: latest,
            value: inner.state.get(key),
            proof: inner.tree.prove(key),
            header: inner.header.clone(),
        })
    }

    async fn mine(&self, blocks: u32) -> Result<()> {
        let mut inner = self.lock();
        for _ in 0..blocks.max(1) {
            self.produce(&mut inner)?;
        }
        Ok(())
    }

    async fn advance_time(&self, ms: u64) -> Result<()> {
        let mut inner = self.lock();
        inner.time_offset_ms = inner.time_offset_ms.saturating_add(ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light::LightClient;

    #[tokio::test]
    async fn transfers_commit_and_prove_against_signed_headers() {
        let chain = TestChain::devnet();
        let mut alice = chain.builder(Keypair::dev(0)).await.unwrap();
        let bob = Keypair::dev(1).account();
        let committed = chain
            .submit_and_wait(&alice.transfer(bob, 250))
            .await
            .unwrap();
        assert!(committed.success());
        assert_eq!(
            chain.account(&bob).await.unwrap().available.0,
            1_000_000_000_250
        );
        let light = LightClient::new(
            chain.chain_id().await.unwrap(),
            chain.sequencer().await.unwrap(),
        );
        let proven = chain
            .prove(&agora_contract::state::keys::account(&bob), None)
            .await
            .unwrap();
        light.verify(&proven).unwrap();
        let mut forged = proven.clone();
        forged.value = Some(vec![0; 16]);
        assert!(light.verify(&forged).is_err());
        let failed = chain
            .submit_and_wait(&alice.transfer(bob, 10_000_000_000_000))
            .await
            .unwrap();
        assert_eq!(failed.error().map(|e| e.name()), Some("InsufficientFunds"));
    }
}
