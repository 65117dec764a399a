//! The wallet: accounts with `available` funds and a `nonce`, transfers, minting by the
//! chain's mint authority, genesis allocations and the account view. Funds held by escrows
//! live in the escrows; the view's `locked` is computed from them, never stored.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::amount::Amount;
use crate::bounded::Label;
use crate::context::Env;
use crate::error::TxError;
use crate::escrow::Escrow;
use crate::event::Event;
use crate::ids::{AccountId, Uuid};
use crate::state::{decode_record, keys, load, scan, Changes, StateView};

/// An account's own record. A missing record reads as the default: no funds, nonce 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Account {
    pub available: Amount,
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
}

/// Chain-wide settings fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChainConfig {
    pub chain_id: Label,
    /// The one account allowed to `Mint`; `None` fixes the supply at genesis.
    pub mint_authority: Option<AccountId>,
}

/// Everything ever created: genesis allocations plus mints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Supply {
    pub total_minted: Amount,
}

/// What a client sees of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AccountView {
    pub available: Amount,
    /// Funds this account has in open escrows and request reservations (held by those
    /// objects, not by the account).
    pub locked: Amount,
    pub nonce: u64,
}

pub fn load_account(view: &dyn StateView, id: &AccountId) -> Result<Account, TxError> {
    account_from_record(view.get(&keys::account(id)).as_deref())
}

/// An account from its stored record as [`load_account`] reads it (absent: the empty
/// account).
pub fn account_from_record(record: Option<&[u8]>) -> Result<Account, TxError> {
    Ok(decode_record::<Account>(record)?.unwrap_or_default())
}

pub fn load_config(view: &dyn StateView) -> Result<ChainConfig, TxError> {
    load::<ChainConfig>(view, &keys::chain_config())?.ok_or(TxError::StateCorrupt)
}

pub fn load_supply(view: &dyn StateView) -> Result<Supply, TxError> {
    Ok(load::<Supply>(view, &keys::supply())?.unwrap_or_default())
}

/// Adds `amount` to an account's available funds.
pub fn credit(changes: &mut Changes, id: &AccountId, amount: Amount) -> Result<(), TxError> {
    let mut account = load_account(changes, id)?;
    account.available = account.available.checked_add(amount)?;
    changes.put(keys::account(id), &account);
    Ok(())
}

/// Takes `amount` from an account's available funds, or fails with `InsufficientFunds`.
pub fn debit(changes: &mut Changes, id: &AccountId, amount: Amount) -> Result<(), TxError> {
    let mut account = load_account(changes, id)?;
    if account.available < amount {
        return Err(TxError::InsufficientFunds {
            available: account.available,
            required: amount,
        });
    }
    account.available = account.available.checked_sub(amount)?;
    changes.put(keys::account(id), &account);
    Ok(())
}

/// `Transfer { to, amount }`: checks zero amount, self-transfer, then funds.
pub fn execute_transfer(
    changes: &mut Changes,
    env: &Env,
    to: AccountId,
    amount: Amount,
) -> Result<(), TxError> {
    if amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    if to == env.signer {
        return Err(TxError::SelfTransfer);
    }
    debit(changes, &env.signer, amount)?;
    credit(changes, &to, amount)?;
    changes.emit(Event::Transferred {
        from: env.signer,
        to,
        amount,
    });
    Ok(())
}

/// `Mint { to, amount }`: checks the mint authority, then zero amount, then supply overflow.
pub fn execute_mint(
    changes: &mut Changes,
    env: &Env,
    to: AccountId,
    amount: Amount,
) -> Result<(), TxError> {
    let config = load_config(changes)?;
    if config.mint_authority != Some(env.signer) {
        return Err(TxError::NotMintAuthority);
    }
    if amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    let mut supply = load_supply(changes)?;
    supply.total_minted = supply.total_minted.checked_add(amount)?;
    credit(changes, &to, amount)?;
    changes.put(keys::supply(), &supply);
    changes.emit(Event::Minted { to, amount });
    Ok(())
}

/// The account as a client sees it, with `locked` summed from the escrows it funded.
pub fn account_view(view: &dyn StateView, id: &AccountId) -> Result<AccountView, TxError> {
    let account = load_account(view, id)?;
    let mut locked = Amount::ZERO;
    let prefix = keys::holdings_of(id);
    let (start, end) = keys::prefix_range(&prefix);
    for (key, _) in scan(view, &start, &end) {
        let tag = key.get(prefix.len()).copied();
        let object_id = key
            .get(prefix.len().saturating_add(1)..)
            .and_then(|bytes| Uuid::from_slice(bytes).ok())
            .ok_or(TxError::StateCorrupt)?;
        let holding = match tag {
            Some(keys::TAG_ESCROW) => {
                load::<Escrow>(view, &keys::escrow(&object_id))?
                    .ok_or(TxError::StateCorrupt)?
                    .held
            }
            Some(keys::TAG_REQUEST) => {
                crate::market::load_request(view, &object_id)
                    .map_err(|_| TxError::StateCorrupt)?
                    .reserved
            }
            _ => return Err(TxError::StateCorrupt),
        };
        locked = locked.checked_add(holding)?;
    }
    Ok(AccountView {
        available: account.available,
        locked,
        nonce: account.nonce,
    })
}

/// Every account with a record, in key order (for invariant checks and tools).
pub fn all_accounts(view: &dyn StateView) -> Result<Vec<(AccountId, Account)>, TxError> {
    let (start, end) = keys::namespace(keys::NS_ACCOUNT);
    scan(view, &start, &end)
        .map(|(key, value)| {
            let id: [u8; 32] = key
                .get(1..)
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or(TxError::StateCorrupt)?;
            let account = crate::codec::decode_canonical::<Account>(&value)
                .map_err(|_| TxError::StateCorrupt)?;
            Ok((AccountId(id), account))
        })
        .collect()
}
