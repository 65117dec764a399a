//! Reads the simulation needs beyond the `Chain` trait's typed getters, built only on
//! `Chain::get` and `Chain::prove` so they work the same on the test chain and on a node:
//! the chain head, the contract's own price statistics, a delivered payload, and the state
//! root of the latest signed header.

use std::collections::BTreeMap;

use agora_contract::block::ChainHead;
use agora_contract::bounded::Label;
use agora_contract::ids::{Hash, Uuid};
use agora_contract::market::prices::{price_stats, PriceStats, HOUR_MS, WINDOW_HOURS};
use agora_contract::market::privacy::Sealed;
use agora_contract::state::{keys, StateView};
use agora_sdk::Chain;
use anyhow::{anyhow, Context, Result};
use borsh::BorshDeserialize;

fn decode<T: BorshDeserialize>(what: &str, bytes: Option<Vec<u8>>) -> Result<Option<T>> {
    bytes
        .map(|bytes| borsh::from_slice::<T>(&bytes).with_context(|| format!("{what} decodes")))
        .transpose()
}

/// Height and block time of the latest committed block.
pub async fn chain_head<C: Chain>(chain: &C) -> Result<ChainHead> {
    decode::<ChainHead>("chain head", chain.get(&keys::chain_head()).await?)?
        .ok_or_else(|| anyhow!("the chain has no head record"))
}

/// A few state values fetched ahead, so the contract's read functions can run over them.
struct Prefetched(BTreeMap<Vec<u8>, Vec<u8>>);

impl StateView for Prefetched {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key).cloned()
    }
    fn first_in_range(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        self.0
            .range(start.to_vec()..end.to_vec())
            .next()
            .map(|(k, v)| (k.clone(), v.clone()))
    }
}

/// The contract's trailing 24 h price figures for `task_type` at `now_ms`: the 24 hourly
/// buckets are read from the chain and summed by `prices::price_stats` itself.
pub async fn price_window<C: Chain>(
    chain: &C,
    task_type: &Label,
    now_ms: u64,
) -> Result<Option<PriceStats>> {
    let current = now_ms / HOUR_MS;
    let mut values = BTreeMap::new();
    for hour in current.saturating_sub(WINDOW_HOURS - 1)..=current {
        let key = keys::price_bucket(task_type, hour);
        if let Some(value) = chain.get(&key).await? {
            values.insert(key, value);
        }
    }
    price_stats(&Prefetched(values), task_type, now_ms)
        .map_err(|error| anyhow!("price statistics: {error}"))
}

/// The confidential payload delivered for an assignment, if any.
pub async fn delivered_payload<C: Chain>(chain: &C, assignment: &Uuid) -> Result<Option<Sealed>> {
    decode(
        "delivered payload",
        chain.get(&keys::delivered_payload(assignment)).await?,
    )
}

/// The state root in the latest signed header (read through a proof, which carries it).
pub async fn state_root<C: Chain>(chain: &C) -> Result<Hash> {
    let proven = chain.prove(&keys::chain_head(), None).await?;
    Ok(proven.header.header.state_root)
}
