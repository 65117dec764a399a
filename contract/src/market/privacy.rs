//! Privacy levels of a request (SPEC §6). The contract stores and checks sizes, allow-lists
//! and commitments; encryption and decryption happen in the SDK. `Public` keeps the
//! payload in clear; `Private` keeps one ciphertext per allow-listed provider and admits
//! only those providers; `Confidential` keeps a sha256 commitment, requires a reputation
//! gate, and the requester delivers the payload encrypted to each assigned provider with
//! `DeliverPayload`, which the provider checks against the commitment.

use borsh::{BorshDeserialize, BorshSerialize};

use super::{load_assignment, load_request, Request};
use crate::bounded::BoundedVec;
use crate::context::Env;
use crate::error::TxError;
use crate::event::{Event, MarketEvent};
use crate::ids::{AccountId, Hash, Uuid};
use crate::state::{keys, Changes, StateView};

/// Largest clear payload: 4 KiB.
pub const MAX_PAYLOAD_BYTES: u32 = 4 * 1024;
/// Largest ciphertext: the payload plus room for a key exchange, nonce and tag.
pub const MAX_CIPHERTEXT_BYTES: u32 = MAX_PAYLOAD_BYTES + 128;
/// Most providers a `Private` request is encrypted to.
pub const MAX_RECIPIENTS: u32 = 8;

/// A payload encrypted to one provider.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Sealed {
    pub provider: AccountId,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub ciphertext: BoundedVec<u8, MAX_CIPHERTEXT_BYTES>,
}

/// Who may see a request's payload, and so who may take it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Privacy {
    Public {
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        payload: BoundedVec<u8, MAX_PAYLOAD_BYTES>,
    },
    /// Sorted by provider, distinct, at least one.
    Private {
        recipients: BoundedVec<Sealed, MAX_RECIPIENTS>,
    },
    /// sha256 of the payload; requires `min_reputation` on the request.
    Confidential {
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        commitment: Hash,
    },
}

/// At posting: a `Private` allow-list is non-empty, sorted and distinct and excludes the
/// requester; a `Confidential` request names a `min_reputation`.
pub fn check_privacy(
    privacy: &Privacy,
    min_reputation: Option<u16>,
    requester: &AccountId,
) -> Result<(), TxError> {
    let valid = match privacy {
        Privacy::Public { .. } => true,
        Privacy::Private { recipients } => {
            let list = recipients.as_slice();
            !list.is_empty()
                && list
                    .windows(2)
                    .all(|pair| matches!(pair, [a, b] if a.provider < b.provider))
                && list.iter().all(|sealed| sealed.provider != *requester)
        }
        Privacy::Confidential { .. } => min_reputation.is_some(),
    };
    if valid {
        Ok(())
    } else {
        Err(TxError::InvalidPrivacy)
    }
}

/// At acceptance and matching: a `Private` request admits only its allow-list.
pub fn check_allowed(request: &Request, provider: &AccountId) -> Result<(), TxError> {
    match &request.privacy {
        Privacy::Private { recipients } => {
            let listed = recipients
                .as_slice()
                .iter()
                .any(|sealed| sealed.provider == *provider);
            if listed {
                Ok(())
            } else {
                Err(TxError::NotOnAllowList)
            }
        }
        Privacy::Public { .. } | Privacy::Confidential { .. } => Ok(()),
    }
}

/// `DeliverPayload`: check order NotFound, NotAuthorized (not the requester), InvalidPrivacy
/// (the request is not `Confidential`), AlreadyExists (delivered before). Stores the
/// ciphertext under the assignment for its provider to fetch and check.
pub fn execute_deliver_payload(
    changes: &mut Changes,
    env: &Env,
    assignment_id: &Uuid,
    ciphertext: &BoundedVec<u8, MAX_CIPHERTEXT_BYTES>,
) -> Result<(), TxError> {
    let assignment = load_assignment(changes, assignment_id)?;
    if assignment.requester != env.signer {
        return Err(TxError::NotAuthorized);
    }
    let request =
        load_request(changes, &assignment.request_id).map_err(|_| TxError::StateCorrupt)?;
    let Privacy::Confidential { commitment } = request.privacy else {
        return Err(TxError::InvalidPrivacy);
    };
    let key = keys::delivered_payload(assignment_id);
    if changes.get(&key).is_some() {
        return Err(TxError::AlreadyExists);
    }
    let sealed = Sealed {
        provider: assignment.provider,
        ciphertext: ciphertext.clone(),
    };
    changes.put(key, &sealed);
    changes.emit(Event::Market(MarketEvent::PayloadDelivered {
        assignment_id: *assignment_id,
        provider: assignment.provider,
        commitment,
    }));
    Ok(())
}
