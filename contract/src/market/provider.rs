//! `RegisterProvider`: an account becomes a provider with its capabilities and the
//! starting reputation score.

use super::{labels_sorted, load_provider, Provider, INITIAL_SCORE, MAX_CAPABILITIES};
use crate::bounded::{BoundedVec, Label};
use crate::context::Env;
use crate::error::TxError;
use crate::event::{Event, MarketEvent};
use crate::state::{keys, Changes};

/// Check order: AlreadyExists (one record per account), InvalidLabels.
pub fn execute_register_provider(
    changes: &mut Changes,
    env: &Env,
    capabilities: &BoundedVec<Label, MAX_CAPABILITIES>,
) -> Result<(), TxError> {
    if load_provider(changes, &env.signer)?.is_some() {
        return Err(TxError::AlreadyExists);
    }
    if !labels_sorted(capabilities.as_slice()) {
        return Err(TxError::InvalidLabels);
    }
    let provider = Provider {
        account: env.signer,
        capabilities: capabilities.clone(),
        score: INITIAL_SCORE,
        registered_at_ms: env.now_ms(),
    };
    changes.put(keys::provider(&env.signer), &provider);
    changes.emit(Event::Market(MarketEvent::ProviderRegistered {
        provider: env.signer,
    }));
    Ok(())
}
