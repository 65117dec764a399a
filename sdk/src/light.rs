//! The light client: trusts only a chain id and the sequencer's public key. It checks a
//! header's signature, then a state proof against that header's state root, using the
//! contract crate's commitment code (no second implementation), and recomputes an
//! escrow's audit chain from its events against the proven `audit_head`.

use agora_contract::bounded::Label;
use agora_contract::escrow::Escrow;
use agora_contract::event::{audit_head_of, EscrowEvent, EventSource};
use agora_contract::header::SignedHeader;
use agora_contract::ids::{AccountId, Uuid};
use agora_contract::state::keys;

use crate::chain::ProvenValue;
use crate::error::{Error, Result};

/// What a light client trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightClient {
    pub chain_id: Label,
    pub sequencer: AccountId,
}

impl LightClient {
    pub fn new(chain_id: Label, sequencer: AccountId) -> LightClient {
        LightClient {
            chain_id,
            sequencer,
        }
    }

    /// The header is for our chain and signed by the sequencer (strict ed25519).
    pub fn verify_header(&self, header: &SignedHeader) -> Result<()> {
        header
            .verify(&self.chain_id, &self.sequencer)
            .map_err(|error| Error::Verification(error.to_string()))
    }

    /// The header checks out and the proof shows `value.key` holding `value.value` (or
    /// absent) at the header's height.
    pub fn verify(&self, value: &ProvenValue) -> Result<()> {
        if value.header.header.height != value.height {
            return Err(Error::Verification(
                "proof height differs from the header's".into(),
            ));
        }
        value
            .header
            .verify_state(
                &self.chain_id,
                &self.sequencer,
                &value.key,
                value.value.as_deref(),
                &value.proof,
            )
            .map_err(|error| Error::Verification(error.to_string()))
    }

    /// Verifies a proven escrow record and returns it (`None`: proven absent).
    pub fn verify_escrow(&self, id: &Uuid, value: &ProvenValue) -> Result<Option<Escrow>> {
        if value.key != keys::escrow(id) {
            return Err(Error::Verification("the proof is for another key".into()));
        }
        self.verify(value)?;
        value
            .value
            .as_ref()
            .map(|bytes| {
                borsh::from_slice::<Escrow>(bytes)
                    .map_err(|_| Error::Verification("proven value is not an escrow".into()))
            })
            .transpose()
    }

    /// Recomputes the escrow's audit chain from `events` and compares it with the proven
    /// escrow's `audit_head`.
    pub fn verify_audit_chain(
        &self,
        escrow: &Escrow,
        events: &[(EventSource, EscrowEvent)],
    ) -> Result<()> {
        let recomputed = audit_head_of(&escrow.id, events);
        if recomputed == escrow.audit_head {
            Ok(())
        } else {
            Err(Error::Verification(format!(
                "audit chain of {} events ends at {}, the proven escrow holds {}",
                events.len(),
                hex::encode(recomputed),
                hex::encode(escrow.audit_head)
            )))
        }
    }
}
