//! Set-up shared by the benchmark programs: deterministic funded accounts on a fresh
//! in-memory chain.

use agora_contract::block::{init_chain, Genesis};
use agora_contract::state::MemState;
use agora_contract::tx::account_of;
use agora_contract::{AccountId, Amount, Label};
use ed25519_dalek::SigningKey;

/// A chain named `agora-bench` at genesis time 1 000 ms with `count` accounts, each holding
/// 10^9; account `i`'s seed is `seed_fill` bytes with `i` (big-endian) in the first eight.
pub struct FundedChain {
    pub keys: Vec<SigningKey>,
    pub ids: Vec<AccountId>,
    pub chain_id: Label,
    pub state: MemState,
}

pub fn funded_chain(count: usize, seed_fill: u8) -> FundedChain {
    let keys: Vec<SigningKey> = (0..count)
        .map(|i| {
            let mut seed = [seed_fill; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    let ids: Vec<AccountId> = keys.iter().map(account_of).collect();
    let chain_id = Label::new("agora-bench").unwrap();
    let genesis = Genesis {
        chain_id: chain_id.clone(),
        genesis_time_ms: 1_000,
        mint_authority: None,
        allocations: ids.iter().map(|id| (*id, Amount(1_000_000_000))).collect(),
    };
    let mut state = MemState::new();
    state.apply(&init_chain(&genesis).unwrap());
    FundedChain {
        keys,
        ids,
        chain_id,
        state,
    }
}
