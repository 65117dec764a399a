//! Committed account records kept in memory, so admission (nonce checks), block
//! selection (nonces) and execution (balances and nonces) do not read RocksDB for every
//! transaction. The cache holds every account record a committed block wrote (genesis
//! included) and every one a miss loaded from the store, up to a bound. An absent record
//! is not held (a load answers it, uncached). A node restarted on a stored chain starts
//! with it empty. A held record is never older than the store's by more than the moment
//! between a block's write and its `block_committed` call, when the sequencer, the only
//! writer, has not yet reported the block (no mempool change, no next block):
//!
//! - a committed block sets its accounts' records, then bumps the generation; a load that
//!   started in an older generation returns its value without caching it (it may have
//!   read the store before that block landed);
//! - when full, a load starts the cache over (costs reloads, never a wrong answer), and a
//!   committed block updates the accounts already held without adding new ones.

use std::collections::HashMap;
use std::sync::Mutex;

use agora_contract::ids::AccountId;
use agora_contract::wallet::Account;

/// Most accounts held at once (~100 MiB at this bound: a state of 10^6 accounts is held
/// whole).
const ACCOUNT_CACHE_MAX: usize = 1 << 20;

#[derive(Default)]
struct Inner {
    accounts: HashMap<AccountId, Account>,
    generation: u64,
}

/// What [`AccountCache::lookup`] found.
pub struct Lookup {
    /// Each account's held record, in the order asked (`None`: not held).
    pub cached: Vec<Option<Account>>,
    generation: u64,
}

/// See the module documentation.
#[derive(Default)]
pub struct AccountCache {
    inner: Mutex<Inner>,
}

impl AccountCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account's committed record, from memory or else from `load` (the store;
    /// `None`: no record).
    pub fn get_or_load<E>(
        &self,
        account: &AccountId,
        load: impl FnOnce() -> Result<Option<Account>, E>,
    ) -> Result<Option<Account>, E> {
        let lookup = self.lookup(std::slice::from_ref(account));
        if let Some(Some(record)) = lookup.cached.first() {
            return Ok(Some(*record));
        }
        let record = load()?;
        self.remember(&lookup, record.map(|record| (*account, record)));
        Ok(record)
    }

    /// The held records of `accounts`, in order (`None`: not held, load it from the
    /// store and hand it to [`AccountCache::remember`] with this lookup).
    pub fn lookup(&self, accounts: &[AccountId]) -> Lookup {
        let inner = self.lock();
        Lookup {
            cached: accounts
                .iter()
                .map(|account| inner.accounts.get(account).copied())
                .collect(),
            generation: inner.generation,
        }
    }

    /// Holds records read from the store after `lookup`, unless a block committed since
    /// (the read may predate it: the values are right for the caller, not for the cache).
    pub fn remember(
        &self,
        lookup: &Lookup,
        loaded: impl IntoIterator<Item = (AccountId, Account)>,
    ) {
        let mut inner = self.lock();
        if inner.generation != lookup.generation {
            return;
        }
        for (account, record) in loaded {
            if inner.accounts.len() >= ACCOUNT_CACHE_MAX {
                inner.accounts.clear();
                inner.generation = inner.generation.wrapping_add(1);
                return;
            }
            inner.accounts.insert(account, record);
        }
    }

    /// After a block is durably committed: the committed records of the accounts it wrote
    /// (`None`: absent or undecodable, forget the account). Added while the bound allows,
    /// updated always.
    pub fn block_committed(&self, updates: impl IntoIterator<Item = (AccountId, Option<Account>)>) {
        let updates = updates.into_iter();
        let mut inner = self.lock();
        let room = ACCOUNT_CACHE_MAX.saturating_sub(inner.accounts.len());
        inner.accounts.reserve(updates.size_hint().0.min(room));
        for (account, record) in updates {
            match record {
                Some(record) => {
                    let room = inner.accounts.len() < ACCOUNT_CACHE_MAX;
                    match inner.accounts.get_mut(&account) {
                        Some(held) => *held = record,
                        None if room => {
                            inner.accounts.insert(account, record);
                        }
                        None => {}
                    }
                }
                None => {
                    inner.accounts.remove(&account);
                }
            }
        }
        inner.generation = inner.generation.wrapping_add(1);
    }

    /// How many accounts are held.
    pub fn len(&self) -> usize {
        self.lock().accounts.len()
    }

    /// Whether no account is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (after a revert).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.accounts.clear();
        inner.generation = inner.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_contract::amount::Amount;

    fn account(byte: u8) -> AccountId {
        AccountId([byte; 32])
    }

    fn record(nonce: u64) -> Account {
        Account {
            available: Amount(1_000 + nonce),
            nonce,
        }
    }

    /// A cache holding account 1 at `nonce`, loaded as admission loads it.
    fn holding_account_1(nonce: u64) -> AccountCache {
        let cache = AccountCache::default();
        cache
            .get_or_load(&account(1), || Ok::<_, ()>(Some(record(nonce))))
            .unwrap();
        cache
    }

    #[test]
    fn a_miss_loads_once_and_later_reads_come_from_memory() {
        let cache = AccountCache::default();
        let mut loads = 0;
        for _ in 0..3 {
            let held = cache.get_or_load(&account(1), || {
                loads += 1;
                Ok::<_, ()>(Some(record(7)))
            });
            assert_eq!(held, Ok(Some(record(7))));
        }
        assert_eq!(loads, 1);
    }

    #[test]
    fn a_committed_block_sets_the_records_of_the_accounts_it_wrote() {
        let cache = holding_account_1(1);
        cache.block_committed([(account(1), Some(record(5))), (account(2), Some(record(9)))]);
        assert_eq!(
            cache.get_or_load(&account(1), || Err(())),
            Ok(Some(record(5)))
        );
        // Not held before the block: held from the block on, no store read.
        assert_eq!(
            cache.get_or_load(&account(2), || Err(())),
            Ok(Some(record(9)))
        );
        assert_eq!(cache.len(), 2);
    }

    /// At the bound a block updates what is held and adds nothing; loads still answer.
    #[test]
    fn a_full_cache_updates_held_accounts_and_adds_none() {
        let cache = AccountCache::default();
        let held = (0..ACCOUNT_CACHE_MAX as u32).map(|n| {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&n.to_le_bytes());
            (AccountId(id), Some(record(1)))
        });
        cache.block_committed(held);
        assert_eq!(cache.len(), ACCOUNT_CACHE_MAX);
        let first = AccountId([0; 32]);
        cache.block_committed([(first, Some(record(7))), (account(0xee), Some(record(3)))]);
        assert_eq!(cache.len(), ACCOUNT_CACHE_MAX);
        assert_eq!(cache.get_or_load(&first, || Err(())), Ok(Some(record(7))));
        // Not held: read from the store (a load that finds the cache full starts it over).
        assert_eq!(
            cache.get_or_load(&account(0xee), || Ok::<_, ()>(Some(record(3)))),
            Ok(Some(record(3)))
        );
        assert!(cache.len() < ACCOUNT_CACHE_MAX);
    }

    /// A load that straddles a block commit may have read the store before the block: its
    /// value is returned but does not replace the block's.
    #[test]
    fn a_load_overtaken_by_a_block_is_not_cached() {
        let cache = AccountCache::default();
        let stale = cache.get_or_load(&account(1), || {
            cache.block_committed([(account(1), Some(record(4)))]);
            Ok::<_, ()>(Some(record(3)))
        });
        assert_eq!(stale, Ok(Some(record(3))));
        assert_eq!(
            cache.get_or_load(&account(1), || Err(())),
            Ok(Some(record(4)))
        );
    }

    #[test]
    fn absent_and_undecodable_records_are_not_held() {
        let cache = holding_account_1(1);
        cache.block_committed([(account(1), None)]);
        assert_eq!(
            cache.get_or_load(&account(1), || Ok::<_, ()>(Some(record(6)))),
            Ok(Some(record(6)))
        );
        let mut loads = 0;
        for _ in 0..2 {
            let absent = cache.get_or_load(&account(2), || {
                loads += 1;
                Ok::<_, ()>(None)
            });
            assert_eq!(absent, Ok(None));
        }
        assert_eq!(loads, 2);
    }

    #[test]
    fn load_errors_are_returned_and_not_cached() {
        let cache = AccountCache::default();
        assert_eq!(
            cache.get_or_load(&account(1), || Err("corrupt")),
            Err("corrupt")
        );
        assert_eq!(
            cache.get_or_load(&account(1), || Ok::<_, &str>(Some(record(2)))),
            Ok(Some(record(2)))
        );
    }

    #[test]
    fn a_batch_lookup_finds_the_held_and_remembers_what_was_loaded() {
        let cache = holding_account_1(3);
        let lookup = cache.lookup(&[account(1), account(2), account(3)]);
        assert_eq!(lookup.cached, vec![Some(record(3)), None, None]);
        cache.remember(&lookup, [(account(2), record(5)), (account(3), record(0))]);
        assert_eq!(
            cache.lookup(&[account(3), account(2)]).cached,
            vec![Some(record(0)), Some(record(5))]
        );
    }

    /// Loaded values that straddle a block commit are not remembered (as for a single
    /// load): the block's record stays.
    #[test]
    fn a_batch_overtaken_by_a_block_is_not_remembered() {
        let cache = AccountCache::default();
        let lookup = cache.lookup(&[account(1)]);
        cache.block_committed([(account(1), Some(record(4)))]);
        cache.remember(&lookup, [(account(1), record(3))]);
        assert_eq!(cache.lookup(&[account(1)]).cached, vec![Some(record(4))]);
    }

    #[test]
    fn clear_forgets_everything() {
        let cache = holding_account_1(1);
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(
            cache.get_or_load(&account(1), || Ok::<_, ()>(None)),
            Ok(None)
        );
    }
}
