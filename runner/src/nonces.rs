//! Committed nonces kept in memory, so admission and block selection do not read RocksDB
//! for every sender. A miss loads from the store; a committed block updates the accounts it
//! changed. The cache is never ahead of or behind the store for a cached account:
//!
//! - every committed block bumps the generation after updating its accounts, and a load
//!   that started in an older generation returns its value without caching it (it may have
//!   read the store before that block landed);
//! - when full, the cache starts over (costs reloads, never a wrong answer).

use std::collections::HashMap;
use std::sync::Mutex;

use agora_contract::ids::AccountId;

/// Most accounts remembered at once (~60 MiB at this bound).
const NONCE_CACHE_MAX_ACCOUNTS: usize = 1 << 20;

#[derive(Default)]
struct Inner {
    nonces: HashMap<AccountId, u64>,
    generation: u64,
}

/// See the module documentation.
#[derive(Default)]
pub struct NonceCache {
    inner: Mutex<Inner>,
}

impl NonceCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account's committed nonce, from memory or else from `load` (the store).
    pub fn get_or_load<E>(
        &self,
        account: &AccountId,
        load: impl FnOnce() -> Result<u64, E>,
    ) -> Result<u64, E> {
        let generation = {
            let inner = self.lock();
            if let Some(nonce) = inner.nonces.get(account) {
                return Ok(*nonce);
            }
            inner.generation
        };
        let nonce = load()?;
        let mut inner = self.lock();
        if inner.generation == generation {
            if inner.nonces.len() >= NONCE_CACHE_MAX_ACCOUNTS {
                inner.nonces.clear();
                inner.generation = inner.generation.wrapping_add(1);
            } else {
                inner.nonces.insert(*account, nonce);
            }
        }
        Ok(nonce)
    }

    /// After a block is durably committed: the new nonces of the accounts it wrote
    /// (`None`: unknown, forget the account).
    pub fn block_committed(&self, updates: impl IntoIterator<Item = (AccountId, Option<u64>)>) {
        let mut inner = self.lock();
        for (account, nonce) in updates {
            match nonce {
                Some(nonce) => {
                    if let Some(cached) = inner.nonces.get_mut(&account) {
                        *cached = nonce;
                    }
                }
                None => {
                    inner.nonces.remove(&account);
                }
            }
        }
        inner.generation = inner.generation.wrapping_add(1);
    }

    /// Forgets everything (after a revert).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.nonces.clear();
        inner.generation = inner.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(byte: u8) -> AccountId {
        AccountId([byte; 32])
    }

    #[test]
    fn a_miss_loads_once_and_later_reads_come_from_memory() {
        let cache = NonceCache::default();
        let mut loads = 0;
        for _ in 0..3 {
            let nonce = cache.get_or_load(&account(1), || {
                loads += 1;
                Ok::<_, ()>(7)
            });
            assert_eq!(nonce, Ok(7));
        }
        assert_eq!(loads, 1);
    }

    #[test]
    fn a_committed_block_updates_cached_accounts_only() {
        let cache = NonceCache::default();
        cache.get_or_load(&account(1), || Ok::<_, ()>(1)).unwrap();
        cache.block_committed([(account(1), Some(5)), (account(2), Some(9))]);
        assert_eq!(cache.get_or_load(&account(1), || Err(())), Ok(5));
        // Not cached before the block: loaded from the store, which has the block.
        assert_eq!(cache.get_or_load(&account(2), || Ok::<_, ()>(9)), Ok(9));
    }

    /// A load that straddles a block commit may have read the store before the block: its
    /// value is returned but not remembered.
    #[test]
    fn a_load_overtaken_by_a_block_is_not_cached() {
        let cache = NonceCache::default();
        let stale = cache.get_or_load(&account(1), || {
            cache.block_committed([(account(1), Some(4))]);
            Ok::<_, ()>(3)
        });
        assert_eq!(stale, Ok(3));
        assert_eq!(cache.get_or_load(&account(1), || Ok::<_, ()>(4)), Ok(4));
        assert_eq!(cache.get_or_load(&account(1), || Err(())), Ok(4));
    }

    #[test]
    fn an_unknown_nonce_forgets_the_account() {
        let cache = NonceCache::default();
        cache.get_or_load(&account(1), || Ok::<_, ()>(1)).unwrap();
        cache.block_committed([(account(1), None)]);
        assert_eq!(cache.get_or_load(&account(1), || Ok::<_, ()>(6)), Ok(6));
    }

    #[test]
    fn load_errors_are_returned_and_not_cached() {
        let cache = NonceCache::default();
        assert_eq!(
            cache.get_or_load(&account(1), || Err("corrupt")),
            Err("corrupt")
        );
        assert_eq!(cache.get_or_load(&account(1), || Ok::<_, &str>(2)), Ok(2));
    }

    #[test]
    fn clear_forgets_everything() {
        let cache = NonceCache::default();
        cache.get_or_load(&account(1), || Ok::<_, ()>(1)).unwrap();
        cache.clear();
        assert_eq!(cache.get_or_load(&account(1), || Ok::<_, ()>(0)), Ok(0));
    }
}
