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

/// What [`NonceCache::lookup`] found.
pub struct Lookup {
    /// Each account's cached nonce, in the order asked.
    pub cached: Vec<Option<u64>>,
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
        let lookup = self.lookup(std::slice::from_ref(account));
        if let Some(Some(nonce)) = lookup.cached.first() {
            return Ok(*nonce);
        }
        let nonce = load()?;
        self.remember(&lookup, [(*account, nonce)]);
        Ok(nonce)
    }

    /// The cached nonces of `accounts`, in order (`None`: not cached, load it from the
    /// store and hand it to [`NonceCache::remember`] with this lookup).
    pub fn lookup(&self, accounts: &[AccountId]) -> Lookup {
        let inner = self.lock();
        Lookup {
            cached: accounts
                .iter()
                .map(|account| inner.nonces.get(account).copied())
                .collect(),
            generation: inner.generation,
        }
    }

    /// Caches nonces read from the store after `lookup`, unless a block committed since
    /// (the read may predate it: the values are right for the caller, not for the cache).
    pub fn remember(&self, lookup: &Lookup, loaded: impl IntoIterator<Item = (AccountId, u64)>) {
        let mut inner = self.lock();
        if inner.generation != lookup.generation {
            return;
        }
        for (account, nonce) in loaded {
            if inner.nonces.len() >= NONCE_CACHE_MAX_ACCOUNTS {
                inner.nonces.clear();
                inner.generation = inner.generation.wrapping_add(1);
                return;
            }
            inner.nonces.insert(account, nonce);
        }
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
    fn a_batch_lookup_finds_the_cached_and_remembers_what_was_loaded() {
        let cache = NonceCache::default();
        cache.get_or_load(&account(1), || Ok::<_, ()>(3)).unwrap();
        let lookup = cache.lookup(&[account(1), account(2), account(3)]);
        assert_eq!(lookup.cached, vec![Some(3), None, None]);
        cache.remember(&lookup, [(account(2), 5), (account(3), 0)]);
        assert_eq!(
            cache.lookup(&[account(3), account(2)]).cached,
            vec![Some(0), Some(5)]
        );
    }

    /// Loaded values that straddle a block commit are not cached (as for a single load).
    #[test]
    fn a_batch_overtaken_by_a_block_is_not_remembered() {
        let cache = NonceCache::default();
        let lookup = cache.lookup(&[account(1)]);
        cache.block_committed([(account(1), Some(4))]);
        cache.remember(&lookup, [(account(1), 3)]);
        assert_eq!(cache.lookup(&[account(1)]).cached, vec![None]);
    }

    #[test]
    fn clear_forgets_everything() {
        let cache = NonceCache::default();
        cache.get_or_load(&account(1), || Ok::<_, ()>(1)).unwrap();
        cache.clear();
        assert_eq!(cache.get_or_load(&account(1), || Ok::<_, ()>(0)), Ok(0));
    }
}
