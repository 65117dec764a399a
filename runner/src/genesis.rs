//! The genesis document (JSON, see `docs/genesis.md`), the devnet's default genesis and
//! its deterministic keys: dev account i has the ed25519 seed sha256("agora-dev" ‖ i as u64
//! big-endian), the devnet sequencer sha256("agora-devnet-sequencer").

use agora_contract::block::Genesis;
use agora_contract::bounded::Label;
use agora_contract::ids::{sha256, AccountId};
use agora_contract::tx::account_of;
use agora_contract::Amount;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

/// Chain id of the devnet's default genesis.
pub const DEVNET_CHAIN_ID: &str = "agora-devnet";
/// How many dev accounts the devnet prefunds.
pub const DEV_ACCOUNTS: u64 = 10;
/// Balance of each dev account at genesis.
pub const DEV_BALANCE: u64 = 1_000_000_000_000;

/// One initial balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Account public key, 64 hex characters.
    pub account: String,
    pub amount: u64,
}

/// The genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisDoc {
    /// `[a-z0-9_-]`, at most 32 bytes.
    pub chain_id: String,
    /// Time of the genesis block, unix milliseconds; every block is later.
    pub genesis_time_ms: u64,
    /// The sequencer's public key (hex): the only key light clients trust.
    pub sequencer: String,
    /// The account allowed to mint, if any (hex).
    #[serde(default)]
    pub mint_authority: Option<String>,
    #[serde(default)]
    pub allocations: Vec<Allocation>,
}

/// Why a genesis document is refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisDocError {
    #[error("genesis is not valid JSON for the documented format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("chain id {0:?} must be 1–32 characters of [a-z0-9_-]")]
    ChainId(String),
    #[error("{field} is not a 64-character hex public key: {value:?}")]
    Key { field: &'static str, value: String },
}

impl GenesisDoc {
    /// Parses and validates a genesis file's contents.
    pub fn from_json(bytes: &[u8]) -> Result<GenesisDoc, GenesisDocError> {
        let doc: GenesisDoc = serde_json::from_slice(bytes)?;
        doc.to_contract()?;
        Ok(doc)
    }

    /// Canonical JSON of the document.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn chain_label(&self) -> Result<Label, GenesisDocError> {
        Label::new(&self.chain_id).ok_or_else(|| GenesisDocError::ChainId(self.chain_id.clone()))
    }

    pub fn sequencer_id(&self) -> Result<AccountId, GenesisDocError> {
        parse_account("sequencer", &self.sequencer)
    }

    /// The contract's genesis.
    pub fn to_contract(&self) -> Result<Genesis, GenesisDocError> {
        self.sequencer_id()?;
        let mint_authority = match &self.mint_authority {
            Some(hex) => Some(parse_account("mint_authority", hex)?),
            None => None,
        };
        let allocations = self
            .allocations
            .iter()
            .map(|allocation| {
                Ok((
                    parse_account("allocations.account", &allocation.account)?,
                    Amount(allocation.amount),
                ))
            })
            .collect::<Result<Vec<_>, GenesisDocError>>()?;
        Ok(Genesis {
            chain_id: self.chain_label()?,
            genesis_time_ms: self.genesis_time_ms,
            mint_authority,
            allocations,
        })
    }
}

/// Parses a hex public key.
pub fn parse_account(field: &'static str, value: &str) -> Result<AccountId, GenesisDocError> {
    let bytes = hex::decode(value).map_err(|_| GenesisDocError::Key {
        field,
        value: value.into(),
    })?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| GenesisDocError::Key {
        field,
        value: value.into(),
    })?;
    Ok(AccountId(bytes))
}

/// Dev account `index`'s signing key.
pub fn dev_key(index: u64) -> SigningKey {
    SigningKey::from_bytes(&sha256(&[b"agora-dev", &index.to_be_bytes()]))
}

/// The devnet sequencer's signing key.
pub fn devnet_sequencer_key() -> SigningKey {
    SigningKey::from_bytes(&sha256(&[b"agora-devnet-sequencer"]))
}

/// The devnet's genesis: 10 dev accounts with [`DEV_BALANCE`] each, dev account 0 as the
/// mint authority, the devnet sequencer key.
pub fn devnet_genesis(genesis_time_ms: u64) -> GenesisDoc {
    GenesisDoc {
        chain_id: DEVNET_CHAIN_ID.into(),
        genesis_time_ms,
        sequencer: hex::encode(account_of(&devnet_sequencer_key()).0),
        mint_authority: Some(hex::encode(account_of(&dev_key(0)).0)),
        allocations: (0..DEV_ACCOUNTS)
            .map(|index| Allocation {
                account: hex::encode(account_of(&dev_key(index)).0),
                amount: DEV_BALANCE,
            })
            .collect(),
    }
}

/// A dev account as printed and written to `dev-accounts.json`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DevAccount {
    pub index: u64,
    /// Public key (the account id), hex.
    pub account: String,
    /// ed25519 secret seed, hex. Devnet only: these keys are public knowledge.
    pub secret_key: String,
}

/// The first `count` dev accounts.
pub fn dev_accounts(count: u64) -> Vec<DevAccount> {
    (0..count)
        .map(|index| {
            let key = dev_key(index);
            DevAccount {
                index,
                account: hex::encode(account_of(&key).0),
                secret_key: hex::encode(key.to_bytes()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_genesis_round_trips_and_funds_ten_accounts() {
        let doc = devnet_genesis(1_700_000_000_000);
        let parsed = GenesisDoc::from_json(&doc.to_json()).unwrap();
        assert_eq!(parsed, doc);
        let genesis = parsed.to_contract().unwrap();
        assert_eq!(genesis.allocations.len(), 10);
        assert_eq!(genesis.allocations[3].0, account_of(&dev_key(3)));
    }

    #[test]
    fn the_example_genesis_file_parses() {
        let bytes = include_bytes!("../../fixtures/genesis/devnet.json");
        let doc = GenesisDoc::from_json(bytes).unwrap();
        assert_eq!(doc.chain_id, DEVNET_CHAIN_ID);
    }

    #[test]
    fn bad_genesis_documents_are_refused() {
        let mut doc = devnet_genesis(1);
        doc.chain_id = "Not Valid".into();
        assert!(matches!(
            GenesisDoc::from_json(&doc.to_json()),
            Err(GenesisDocError::ChainId(_))
        ));
        let mut doc = devnet_genesis(1);
        doc.sequencer = "abcd".into();
        assert!(matches!(
            GenesisDoc::from_json(&doc.to_json()),
            Err(GenesisDocError::Key { .. })
        ));
        assert!(matches!(
            GenesisDoc::from_json(b"{\"chain_id\": 1}"),
            Err(GenesisDocError::Json(_))
        ));
    }
}
