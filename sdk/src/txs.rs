//! Transaction building and signing: one method per contract action, client-chosen
//! UUIDs, and local nonce tracking for bursts (fetch the starting nonce once with
//! `Chain::next_nonce`, then every signed transaction takes the next one).

use agora_contract::action::{Action, CreateEscrow, PostRequest};
use agora_contract::bounded::{BoundedVec, Cid, Label};
use agora_contract::escrow::{Decision, Outcome};
use agora_contract::ids::{AccountId, Hash, Uuid};
use agora_contract::market::privacy::MAX_CIPHERTEXT_BYTES;
use agora_contract::market::{QualityScore, MAX_CAPABILITIES, MAX_QUALITY_METRICS, MAX_TASK_TYPES};
use agora_contract::tx::{SignedTx, UnsignedTx};
use agora_contract::Amount;

use crate::keys::Keypair;

/// Signs actions for one account with consecutive nonces.
#[derive(Clone, Debug)]
pub struct TxBuilder {
    chain_id: Label,
    key: Keypair,
    next_nonce: u64,
    valid_until_height: Option<u64>,
}

/// A fresh random (version 4) UUID for a new escrow, offer or request.
pub fn new_id() -> Uuid {
    Uuid::new_v4()
}

impl TxBuilder {
    /// A builder whose first transaction uses `next_nonce`.
    pub fn new(chain_id: Label, key: Keypair, next_nonce: u64) -> TxBuilder {
        TxBuilder {
            chain_id,
            key,
            next_nonce,
            valid_until_height: None,
        }
    }

    /// Transactions signed from now on expire after `height` (`None`: never).
    pub fn valid_until(mut self, height: Option<u64>) -> TxBuilder {
        self.valid_until_height = height;
        self
    }

    /// The signer's account.
    pub fn account(&self) -> AccountId {
        self.key.account()
    }

    /// The nonce the next transaction will use.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Resets the local nonce (after a transaction was dropped, say).
    pub fn set_next_nonce(&mut self, nonce: u64) {
        self.next_nonce = nonce;
    }

    /// Signs `action` with the next nonce.
    pub fn sign(&mut self, action: Action) -> SignedTx {
        let tx = UnsignedTx {
            chain_id: self.chain_id.clone(),
            signer: self.key.account(),
            nonce: self.next_nonce,
            valid_until_height: self.valid_until_height,
            action,
        }
        .sign(self.key.signing_key());
        self.next_nonce = self.next_nonce.saturating_add(1);
        tx
    }

    pub fn transfer(&mut self, to: AccountId, amount: u64) -> SignedTx {
        self.sign(Action::Transfer {
            to,
            amount: Amount(amount),
        })
    }

    pub fn mint(&mut self, to: AccountId, amount: u64) -> SignedTx {
        self.sign(Action::Mint {
            to,
            amount: Amount(amount),
        })
    }

    pub fn create_escrow(&mut self, create: CreateEscrow) -> SignedTx {
        self.sign(Action::CreateEscrow(create))
    }

    pub fn fund_escrow(&mut self, id: Uuid) -> SignedTx {
        self.sign(Action::FundEscrow { id })
    }

    pub fn mark_completed(&mut self, id: Uuid, result_hash: Hash) -> SignedTx {
        self.sign(Action::MarkCompleted { id, result_hash })
    }

    pub fn approve(&mut self, id: Uuid, decision: Decision) -> SignedTx {
        self.sign(Action::Approve { id, decision })
    }

    pub fn raise_dispute(
        &mut self,
        id: Uuid,
        reason_hash: Hash,
        evidence: BoundedVec<Cid, { agora_contract::action::MAX_EVIDENCE }>,
    ) -> SignedTx {
        self.sign(Action::RaiseDispute {
            id,
            reason_hash,
            evidence,
        })
    }

    pub fn add_evidence(&mut self, id: Uuid, cid: Cid) -> SignedTx {
        self.sign(Action::AddEvidence { id, cid })
    }

    pub fn resolve(&mut self, id: Uuid, outcome: Outcome) -> SignedTx {
        self.sign(Action::Resolve { id, outcome })
    }

    pub fn register_provider(
        &mut self,
        capabilities: BoundedVec<Label, MAX_CAPABILITIES>,
    ) -> SignedTx {
        self.sign(Action::RegisterProvider { capabilities })
    }

    pub fn post_offer(
        &mut self,
        id: Uuid,
        task_types: BoundedVec<Label, MAX_TASK_TYPES>,
        ask_per_unit: u64,
        capacity_units: u64,
        expires_at_ms: u64,
    ) -> SignedTx {
        self.sign(Action::PostOffer {
            id,
            task_types,
            ask_per_unit: Amount(ask_per_unit),
            capacity_units,
            expires_at_ms,
        })
    }

    pub fn cancel_offer(&mut self, id: Uuid) -> SignedTx {
        self.sign(Action::CancelOffer { id })
    }

    pub fn post_request(&mut self, post: PostRequest) -> SignedTx {
        self.sign(Action::PostRequest(post))
    }

    pub fn accept_request(&mut self, request_id: Uuid, ask_per_unit: u64) -> SignedTx {
        self.sign(Action::AcceptRequest {
            request_id,
            ask_per_unit: Amount(ask_per_unit),
        })
    }

    pub fn cancel_request(&mut self, id: Uuid) -> SignedTx {
        self.sign(Action::CancelRequest { id })
    }

    pub fn start_task(&mut self, assignment_id: Uuid) -> SignedTx {
        self.sign(Action::StartTask { assignment_id })
    }

    pub fn submit_result(&mut self, assignment_id: Uuid, result_hash: Hash) -> SignedTx {
        self.sign(Action::SubmitResult {
            assignment_id,
            result_hash,
        })
    }

    pub fn rate_result(
        &mut self,
        assignment_id: Uuid,
        scores: BoundedVec<QualityScore, MAX_QUALITY_METRICS>,
    ) -> SignedTx {
        self.sign(Action::RateResult {
            assignment_id,
            scores,
        })
    }

    pub fn deliver_payload(
        &mut self,
        assignment_id: Uuid,
        ciphertext: BoundedVec<u8, MAX_CIPHERTEXT_BYTES>,
    ) -> SignedTx {
        self.sign(Action::DeliverPayload {
            assignment_id,
            ciphertext,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_sign_with_consecutive_nonces_and_verify() {
        let mut builder = TxBuilder::new(Label::new("agora-devnet").unwrap(), Keypair::dev(0), 7);
        let first = builder.transfer(Keypair::dev(1).account(), 5);
        let second = builder.fund_escrow(new_id());
        assert_eq!((first.tx.nonce, second.tx.nonce), (7, 8));
        first.verify_signature().unwrap();
        second.verify_signature().unwrap();
        let decoded = SignedTx::decode(&first.to_bytes()).unwrap();
        assert_eq!(decoded, first);
    }
}
