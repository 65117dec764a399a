//! Golden test vectors for the wire format (SPEC §3 and §5).
//!
//! Transactions are built from fixed inputs (the deterministic dev keys of the test harness,
//! fixed UUIDs, amounts and times) and signed with ed25519, which is deterministic, so every
//! byte is reproducible. For each transaction the unsigned borsh bytes, the signing message,
//! the signer's public key, the signature, the signed bytes and the transaction hash are
//! compared with `fixtures/golden/transactions.json`; state keys, audit-chain heads and
//! market assignment ids with `fixtures/golden/keys_and_audit.json`. Any change to any byte of the encoding fails here,
//! naming the first differing vector and field.
//!
//! A wire-format change that is intended is recorded by regenerating the fixtures:
//! `UPDATE_GOLDEN=1 cargo test -p agora-contract --test golden`, then reviewing the diff.
//!
//! The rest of the file pins canonical decoding and strict signature verification on
//! crafted mutations of the golden transactions.

mod common;

use std::fmt::Write as _;

use agora_contract::event::{
    audit_genesis, audit_head_of, next_audit_head, EscrowEvent, EventSource, SettleCause,
};
use agora_contract::ids::sha256;
use agora_contract::market::privacy::{Privacy, Sealed, MAX_PAYLOAD_BYTES, MAX_RECIPIENTS};
use agora_contract::market::{assignment_id, QualityMin, QualityScore, Sla, TaskSpec};
use agora_contract::state::keys;
use agora_contract::tx::{account_of, SignedTx, UnsignedTx, TX_SIGNING_DOMAIN};
use agora_contract::{
    AccountId, Action, Amount, BoundedVec, Cid, CreateEscrow, Decision, EscrowKind, Label, Outcome,
    PostRequest, TxError, Uuid,
};
use common::{at, dev_id, dev_key, ARB1, ARB2, ARB3, MINTER, OUTSIDER, PROVIDER, REQUESTER};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

// Paths relative to the package root, where `cargo test` runs test binaries (a path
// fixed at compile time breaks when a build cache is shared between checkouts).
const TRANSACTIONS_PATH: &str = "../fixtures/golden/transactions.json";
const KEYS_AND_AUDIT_PATH: &str = "../fixtures/golden/keys_and_audit.json";

/// The chain id every golden transaction carries.
const GOLDEN_CHAIN_ID: &str = "agora-golden";

/// The order of the ed25519 base point, ℓ = 2^252 + 27742317777372353535851937790883648493,
/// little-endian.
const ED25519_ORDER_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Escrow ids of the golden transactions, one per escrow kind.
const ESCROW_SINGLE: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_5a01);
const ESCROW_BOTH: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_5a02);
const ESCROW_ARBITRATED: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_5a03);
const ESCROW_TIME_LOCKED: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_5a04);

/// Market ids of the golden transactions: one offer, three requests.
const OFFER: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_6b01);
const REQUEST_FULL: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_7c01);
const REQUEST_MINIMAL: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_7c02);
const REQUEST_PRIVATE: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_7c03);

/// The clear payload of the confidential full request; the request carries its sha256.
const CONFIDENTIAL_PAYLOAD: &[u8] = b"golden confidential payload";

// ---------------------------------------------------------------------------------------
// Vector definitions
// ---------------------------------------------------------------------------------------

/// One golden transaction before signing.
struct TxSpec {
    name: &'static str,
    /// Index of the dev key that signs (`common::dev_key`).
    signer: usize,
    nonce: u64,
    valid_until_height: Option<u64>,
    action: Action,
}

impl TxSpec {
    fn unsigned(&self) -> UnsignedTx {
        UnsignedTx {
            chain_id: Label::new(GOLDEN_CHAIN_ID).unwrap(),
            signer: dev_id(self.signer),
            nonce: self.nonce,
            valid_until_height: self.valid_until_height,
            action: self.action.clone(),
        }
    }

    fn signed(&self) -> SignedTx {
        self.unsigned().sign(&dev_key(self.signer))
    }
}

fn cid(text: &str) -> Cid {
    Cid::new(text).unwrap()
}

fn label(text: &str) -> Label {
    Label::new(text).unwrap()
}

fn labels<const N: u32>(texts: &[&str]) -> BoundedVec<Label, N> {
    BoundedVec::new(texts.iter().map(|t| label(t)).collect()).unwrap()
}

/// The assignment of `REQUEST_FULL` to the provider dev key, as the market derives it.
fn assignment_full() -> Uuid {
    assignment_id(&REQUEST_FULL, &dev_id(PROVIDER))
}

fn arbitrators(
    who: &[usize],
) -> BoundedVec<AccountId, { agora_contract::action::MAX_ARBITRATORS }> {
    BoundedVec::new(who.iter().map(|i| dev_id(*i)).collect()).unwrap()
}

fn bytes<const N: u32>(data: &[u8]) -> BoundedVec<u8, N> {
    BoundedVec::new(data.to_vec()).unwrap()
}

/// A `Private` allow-list: one sealed payload per (dev key, ciphertext), sorted by provider
/// as the contract requires.
fn private(recipients: &[(usize, &[u8])]) -> Privacy {
    let mut sealed: Vec<Sealed> = recipients
        .iter()
        .map(|(who, ciphertext)| Sealed {
            provider: dev_id(*who),
            ciphertext: bytes(ciphertext),
        })
        .collect();
    sealed.sort_by_key(|sealed| sealed.provider);
    Privacy::Private {
        recipients: BoundedVec::new(sealed).unwrap(),
    }
}

/// The golden transactions: one per action variant, one `CreateEscrow` per escrow kind,
/// every `Decision` and `Outcome`, one with `valid_until_height` set, and three
/// `PostRequest`s, one per privacy level (a `Confidential` one with every optional part
/// present except the window, a minimal `Public` one, and a `Private` one with two
/// recipients).
/// New vectors go at the end so the committed ones keep their positions.
fn tx_specs() -> Vec<TxSpec> {
    let spec = |name, signer, nonce, action| TxSpec {
        name,
        signer,
        nonce,
        valid_until_height: None,
        action,
    };
    vec![
        spec(
            "transfer",
            REQUESTER,
            0,
            Action::Transfer {
                to: dev_id(PROVIDER),
                amount: Amount(250_000),
            },
        ),
        spec(
            "mint",
            MINTER,
            7,
            Action::Mint {
                to: dev_id(REQUESTER),
                amount: Amount(1_000_000_000_000),
            },
        ),
        spec(
            "create_escrow_single",
            REQUESTER,
            1,
            Action::CreateEscrow(CreateEscrow {
                id: ESCROW_SINGLE,
                provider: dev_id(PROVIDER),
                amount: Amount(10_000),
                kind: EscrowKind::Single,
                arbitrators: BoundedVec::empty(),
                deadline_ms: at(86_400_000),
                dispute_window_ms: Some(3_600_000),
                job_ref: [0xa1; 32],
                fund: false,
            }),
        ),
        spec(
            "create_escrow_both_parties",
            REQUESTER,
            2,
            Action::CreateEscrow(CreateEscrow {
                id: ESCROW_BOTH,
                provider: dev_id(PROVIDER),
                amount: Amount(20_000),
                kind: EscrowKind::BothParties,
                arbitrators: arbitrators(&[ARB1]),
                deadline_ms: at(172_800_000),
                dispute_window_ms: Some(600_000),
                job_ref: [0xb2; 32],
                fund: false,
            }),
        ),
        spec(
            "create_escrow_arbitrators_funded_default_window",
            REQUESTER,
            3,
            Action::CreateEscrow(CreateEscrow {
                id: ESCROW_ARBITRATED,
                provider: dev_id(PROVIDER),
                amount: Amount(30_000),
                kind: EscrowKind::Arbitrators {
                    required: 2,
                    total: 3,
                },
                arbitrators: arbitrators(&[ARB1, ARB2, ARB3]),
                deadline_ms: at(604_800_000),
                dispute_window_ms: None,
                job_ref: [0xc3; 32],
                fund: true,
            }),
        ),
        spec(
            "create_escrow_time_locked",
            REQUESTER,
            4,
            Action::CreateEscrow(CreateEscrow {
                id: ESCROW_TIME_LOCKED,
                provider: dev_id(PROVIDER),
                amount: Amount(40_000),
                kind: EscrowKind::TimeLocked {
                    release_after_ms: at(43_200_000),
                },
                arbitrators: BoundedVec::empty(),
                deadline_ms: at(86_400_000),
                dispute_window_ms: Some(7_200_000),
                job_ref: [0xd4; 32],
                fund: false,
            }),
        ),
        spec(
            "fund_escrow",
            REQUESTER,
            5,
            Action::FundEscrow { id: ESCROW_SINGLE },
        ),
        spec(
            "mark_completed",
            PROVIDER,
            0,
            Action::MarkCompleted {
                id: ESCROW_SINGLE,
                result_hash: [0xe5; 32],
            },
        ),
        spec(
            "approve_release",
            REQUESTER,
            6,
            Action::Approve {
                id: ESCROW_SINGLE,
                decision: Decision::Release,
            },
        ),
        spec(
            "approve_refund",
            PROVIDER,
            1,
            Action::Approve {
                id: ESCROW_BOTH,
                decision: Decision::Refund,
            },
        ),
        spec(
            "raise_dispute_with_evidence",
            REQUESTER,
            7,
            Action::RaiseDispute {
                id: ESCROW_ARBITRATED,
                reason_hash: [0xf6; 32],
                evidence: BoundedVec::new(vec![
                    cid("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
                    cid("https://example.org/logs/run-42.txt"),
                ])
                .unwrap(),
            },
        ),
        spec(
            "add_evidence",
            PROVIDER,
            2,
            Action::AddEvidence {
                id: ESCROW_ARBITRATED,
                cid: cid("sha256:9f86d081884c7d659a2feaa0c55ad015"),
            },
        ),
        spec(
            "resolve_release",
            ARB1,
            0,
            Action::Resolve {
                id: ESCROW_ARBITRATED,
                outcome: Outcome::Release,
            },
        ),
        spec(
            "resolve_refund",
            ARB2,
            0,
            Action::Resolve {
                id: ESCROW_ARBITRATED,
                outcome: Outcome::Refund,
            },
        ),
        spec(
            "resolve_split",
            ARB3,
            0,
            Action::Resolve {
                id: ESCROW_ARBITRATED,
                outcome: Outcome::Split {
                    provider_bps: 3_333,
                },
            },
        ),
        TxSpec {
            name: "transfer_valid_until_height",
            signer: OUTSIDER,
            nonce: 42,
            valid_until_height: Some(1_234_567),
            action: Action::Transfer {
                to: dev_id(REQUESTER),
                amount: Amount(1),
            },
        },
        spec(
            "register_provider",
            PROVIDER,
            3,
            Action::RegisterProvider {
                capabilities: labels(&["cuda", "gpu-a100", "llm_inference"]),
            },
        ),
        spec(
            "post_offer",
            PROVIDER,
            4,
            Action::PostOffer {
                id: OFFER,
                task_types: labels(&["embedding", "inference"]),
                ask_per_unit: Amount(120),
                capacity_units: 500,
                expires_at_ms: at(3_600_000),
            },
        ),
        spec(
            "cancel_offer",
            PROVIDER,
            5,
            Action::CancelOffer { id: OFFER },
        ),
        spec(
            "post_request_min_reputation_default_window",
            REQUESTER,
            8,
            Action::PostRequest(PostRequest {
                id: REQUEST_FULL,
                spec: TaskSpec {
                    task_type: label("inference"),
                    capabilities: labels(&["cuda", "gpu-a100"]),
                    min_reputation: Some(200),
                    max_duration_ms: 1_800_000,
                },
                bid_per_unit: Amount(150),
                units: 250,
                window_ms: None,
                arbitrators: arbitrators(&[ARB1, ARB2]),
                sla: Sla {
                    max_response_ms: 60_000,
                    max_duration_ms: 1_200_000,
                    quality_min: BoundedVec::new(vec![
                        QualityMin {
                            metric: label("accuracy"),
                            min_bps: 9_500,
                        },
                        QualityMin {
                            metric: label("latency"),
                            min_bps: 8_000,
                        },
                    ])
                    .unwrap(),
                    penalty: Amount(500),
                    review_window_ms: 3_600_000,
                },
                privacy: Privacy::Confidential {
                    commitment: sha256(&[CONFIDENTIAL_PAYLOAD]),
                },
            }),
        ),
        spec(
            "post_request_minimal",
            OUTSIDER,
            43,
            Action::PostRequest(PostRequest {
                id: REQUEST_MINIMAL,
                spec: TaskSpec {
                    task_type: label("x"),
                    capabilities: BoundedVec::empty(),
                    min_reputation: None,
                    max_duration_ms: 1,
                },
                bid_per_unit: Amount(1),
                units: 1,
                window_ms: Some(60_000),
                arbitrators: BoundedVec::empty(),
                sla: Sla {
                    max_response_ms: 0,
                    max_duration_ms: 1,
                    quality_min: BoundedVec::empty(),
                    penalty: Amount(0),
                    review_window_ms: 1,
                },
                privacy: Privacy::Public {
                    payload: bytes(b"hi"),
                },
            }),
        ),
        spec(
            "accept_request",
            PROVIDER,
            6,
            Action::AcceptRequest {
                request_id: REQUEST_FULL,
                ask_per_unit: Amount(140),
            },
        ),
        spec(
            "cancel_request",
            OUTSIDER,
            44,
            Action::CancelRequest {
                id: REQUEST_MINIMAL,
            },
        ),
        // Task execution (tags 15 to 17), appended after the market vectors.
        spec(
            "start_task",
            PROVIDER,
            7,
            Action::StartTask {
                assignment_id: assignment_full(),
            },
        ),
        spec(
            "submit_result",
            PROVIDER,
            8,
            Action::SubmitResult {
                assignment_id: assignment_full(),
                result_hash: [0x5a; 32],
            },
        ),
        spec(
            "rate_result",
            REQUESTER,
            9,
            Action::RateResult {
                assignment_id: assignment_full(),
                scores: BoundedVec::new(vec![
                    QualityScore {
                        metric: label("accuracy"),
                        score_bps: 9_700,
                    },
                    QualityScore {
                        metric: label("latency"),
                        score_bps: 7_900,
                    },
                ])
                .unwrap(),
            },
        ),
        // Privacy levels (tag 18 and the `Private` request), appended after the task
        // execution vectors.
        spec(
            "post_request_private_two_recipients",
            REQUESTER,
            10,
            Action::PostRequest(PostRequest {
                id: REQUEST_PRIVATE,
                spec: TaskSpec {
                    task_type: label("inference"),
                    capabilities: labels(&["cuda"]),
                    min_reputation: None,
                    max_duration_ms: 600_000,
                },
                bid_per_unit: Amount(100),
                units: 10,
                window_ms: Some(300_000),
                arbitrators: arbitrators(&[ARB1]),
                sla: Sla {
                    max_response_ms: 30_000,
                    max_duration_ms: 600_000,
                    quality_min: BoundedVec::empty(),
                    penalty: Amount(0),
                    review_window_ms: 600_000,
                },
                privacy: private(&[(PROVIDER, &[0xc1; 12]), (7, &[0xc7; 16])]),
            }),
        ),
        spec(
            "deliver_payload",
            REQUESTER,
            11,
            Action::DeliverPayload {
                assignment_id: assignment_full(),
                ciphertext: bytes(&[0xd1; 24]),
            },
        ),
    ]
}

/// The wire tag of an action. Exhaustive on purpose: a new variant fails to compile here
/// until it is given a tag and a golden vector.
fn action_tag(action: &Action) -> u8 {
    match action {
        Action::Transfer { .. } => 0,
        Action::Mint { .. } => 1,
        Action::CreateEscrow(_) => 2,
        Action::FundEscrow { .. } => 3,
        Action::MarkCompleted { .. } => 4,
        Action::Approve { .. } => 5,
        Action::RaiseDispute { .. } => 6,
        Action::AddEvidence { .. } => 7,
        Action::Resolve { .. } => 8,
        Action::RegisterProvider { .. } => 9,
        Action::PostOffer { .. } => 10,
        Action::CancelOffer { .. } => 11,
        Action::PostRequest(_) => 12,
        Action::AcceptRequest { .. } => 13,
        Action::CancelRequest { .. } => 14,
        Action::StartTask { .. } => 15,
        Action::SubmitResult { .. } => 16,
        Action::RateResult { .. } => 17,
        Action::DeliverPayload { .. } => 18,
    }
}

/// The number of `Action` variants; the first tag that must be rejected.
const ACTION_VARIANTS: u8 = 19;

fn privacy_tag(privacy: &Privacy) -> u8 {
    match privacy {
        Privacy::Public { .. } => 0,
        Privacy::Private { .. } => 1,
        Privacy::Confidential { .. } => 2,
    }
}

fn kind_tag(kind: &EscrowKind) -> u8 {
    match kind {
        EscrowKind::Single => 0,
        EscrowKind::BothParties => 1,
        EscrowKind::Arbitrators { .. } => 2,
        EscrowKind::TimeLocked { .. } => 3,
    }
}

// ---------------------------------------------------------------------------------------
// Fixture files
// ---------------------------------------------------------------------------------------

/// `fixtures/golden/transactions.json`.
#[derive(Debug, Serialize, Deserialize)]
struct TransactionsFile {
    about: String,
    chain_id: String,
    /// `TX_SIGNING_DOMAIN`, hex.
    signing_domain: String,
    vectors: Vec<TxVector>,
}

/// One golden transaction; every byte string is lowercase hex.
#[derive(Debug, Serialize, Deserialize)]
struct TxVector {
    name: String,
    /// The dev key index that signed: seed = sha256("agora-dev" ‖ u64 big-endian index).
    signer_dev_key: u64,
    unsigned_tx: String,
    signing_message: String,
    signer_public_key: String,
    signature: String,
    signed_tx: String,
    tx_hash: String,
}

/// `fixtures/golden/keys_and_audit.json`.
#[derive(Debug, Serialize, Deserialize)]
struct KeysAndAuditFile {
    about: String,
    state_keys: Vec<KeyVector>,
    audit_chains: Vec<AuditChain>,
    assignment_ids: Vec<AssignmentIdVector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyVector {
    name: String,
    key: String,
}

/// `market::assignment_id(request_id, provider)`: the first 16 bytes of
/// sha256("agora/assignment/v1\0" ‖ request id ‖ provider).
#[derive(Debug, Serialize, Deserialize)]
struct AssignmentIdVector {
    name: String,
    request_id: String,
    provider: String,
    assignment_id: String,
}

/// One escrow's audit chain: the genesis head, then each event with the head after it.
#[derive(Debug, Serialize, Deserialize)]
struct AuditChain {
    name: String,
    escrow_id: String,
    genesis: String,
    steps: Vec<AuditStep>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditStep {
    name: String,
    /// borsh(EventSource).
    source: String,
    /// borsh(EscrowEvent).
    event: String,
    /// The audit head after this event.
    head: String,
}

fn tx_vector(spec: &TxSpec) -> TxVector {
    let unsigned = spec.unsigned();
    let signed = spec.signed();
    TxVector {
        name: spec.name.to_string(),
        signer_dev_key: spec.signer as u64,
        unsigned_tx: hex::encode(borsh::to_vec(&unsigned).unwrap()),
        signing_message: hex::encode(unsigned.signing_message()),
        signer_public_key: hex::encode(dev_key(spec.signer).verifying_key().to_bytes()),
        signature: hex::encode(signed.signature),
        signed_tx: hex::encode(signed.to_bytes()),
        tx_hash: hex::encode(signed.hash()),
    }
}

fn transactions_file() -> TransactionsFile {
    TransactionsFile {
        about: "Agora golden transactions (SPEC §3). Generated by contract/tests/golden.rs; \
                see fixtures/golden/README.md. All byte strings are lowercase hex."
            .to_string(),
        chain_id: GOLDEN_CHAIN_ID.to_string(),
        signing_domain: hex::encode(TX_SIGNING_DOMAIN),
        vectors: tx_specs().iter().map(tx_vector).collect(),
    }
}

fn key_vectors() -> Vec<KeyVector> {
    let key = |name: &str, bytes: Vec<u8>| KeyVector {
        name: name.to_string(),
        key: hex::encode(bytes),
    };
    vec![
        key("chain_config", keys::chain_config()),
        key("supply", keys::supply()),
        key("chain_head", keys::chain_head()),
        key("account(dev 0)", keys::account(&dev_id(REQUESTER))),
        key("account(zero)", keys::account(&AccountId([0; 32]))),
        key("escrow(single)", keys::escrow(&ESCROW_SINGLE)),
        key(
            "deadline(at 86_400_000, escrow, single)",
            keys::deadline(at(86_400_000), keys::TAG_ESCROW, &ESCROW_SINGLE),
        ),
        key(
            "deadline(0x0102030405060708, escrow, arbitrated)",
            keys::deadline(0x0102_0304_0506_0708, keys::TAG_ESCROW, &ESCROW_ARBITRATED),
        ),
        key(
            "holding(dev 0, escrow, single)",
            keys::holding(&dev_id(REQUESTER), keys::TAG_ESCROW, &ESCROW_SINGLE),
        ),
        key(
            "holding(dev 1, escrow, time_locked)",
            keys::holding(&dev_id(PROVIDER), keys::TAG_ESCROW, &ESCROW_TIME_LOCKED),
        ),
        // Market keys (appended; the vectors above keep their positions).
        key("market_counters", keys::market_counters()),
        key("provider(dev 1)", keys::provider(&dev_id(PROVIDER))),
        key("offer(offer)", keys::offer(&OFFER)),
        key(
            "offer_book_prefix(inference)",
            keys::offer_book_prefix(&label("inference")),
        ),
        key(
            "offer_book(inference, 120, 7, offer)",
            keys::offer_book(&label("inference"), 120, 7, &OFFER),
        ),
        key(
            "offer_book(32-byte label, u64::MAX, 0x0102030405060708, offer)",
            keys::offer_book(
                &label("abcdefghijklmnopqrstuvwxyz012345"),
                u64::MAX,
                0x0102_0304_0506_0708,
                &OFFER,
            ),
        ),
        key("request(full)", keys::request(&REQUEST_FULL)),
        key(
            "assignment(assignment_id(full, dev 1))",
            keys::assignment(&assignment_id(&REQUEST_FULL, &dev_id(PROVIDER))),
        ),
        key(
            "price_bucket(inference, 472_222)",
            keys::price_bucket(&label("inference"), 472_222),
        ),
        key(
            "price_bucket(x, 0x0102030405060708)",
            keys::price_bucket(&label("x"), 0x0102_0304_0506_0708),
        ),
        key(
            "deadline(at 900_000, request, full)",
            keys::deadline(at(900_000), keys::TAG_REQUEST, &REQUEST_FULL),
        ),
        key(
            "deadline(at 3_600_000, offer, offer)",
            keys::deadline(at(3_600_000), keys::TAG_OFFER, &OFFER),
        ),
        key(
            "holding(dev 0, request, full)",
            keys::holding(&dev_id(REQUESTER), keys::TAG_REQUEST, &REQUEST_FULL),
        ),
        key(
            "holding(dev 1, offer, offer)",
            keys::holding(&dev_id(PROVIDER), keys::TAG_OFFER, &OFFER),
        ),
        // Task execution keys (appended).
        key(
            "deadline(at 1_800_000, assignment, assignment_id(full, dev 1))",
            keys::deadline(at(1_800_000), keys::TAG_ASSIGNMENT, &assignment_full()),
        ),
        // Privacy keys (appended).
        key(
            "delivered_payload(assignment_id(full, dev 1))",
            keys::delivered_payload(&assignment_full()),
        ),
    ]
}

/// `market::assignment_id` for fixed inputs.
fn assignment_id_vectors() -> Vec<AssignmentIdVector> {
    let vector = |name: &str, request: Uuid, provider: AccountId| AssignmentIdVector {
        name: name.to_string(),
        request_id: hex::encode(request.as_bytes()),
        provider: hex::encode(provider.0),
        assignment_id: hex::encode(assignment_id(&request, &provider).as_bytes()),
    };
    vec![
        vector("full, dev 1", REQUEST_FULL, dev_id(PROVIDER)),
        vector("full, dev 7", REQUEST_FULL, dev_id(7)),
        vector("minimal, dev 1", REQUEST_MINIMAL, dev_id(PROVIDER)),
        vector("zero, zero", Uuid::nil(), AccountId([0; 32])),
    ]
}

/// The audit chains as (name, escrow id, [(step name, source, event)]). Transaction hashes
/// are fixed bytes so these vectors do not depend on the transaction encoding.
#[allow(clippy::type_complexity)]
fn audit_specs() -> Vec<(
    &'static str,
    Uuid,
    Vec<(&'static str, EventSource, EscrowEvent)>,
)> {
    let tx = |byte: u8| EventSource::Tx { hash: [byte; 32] };
    let hook = |height: u64| EventSource::BlockHook { height };
    let created = |kind, amount| EscrowEvent::Created {
        requester: dev_id(REQUESTER),
        provider: dev_id(PROVIDER),
        amount: Amount(amount),
        kind,
        deadline_ms: at(86_400_000),
    };
    vec![
        (
            "arbitrated_split",
            ESCROW_ARBITRATED,
            vec![
                (
                    "created",
                    tx(0x01),
                    created(
                        EscrowKind::Arbitrators {
                            required: 2,
                            total: 3,
                        },
                        30_000,
                    ),
                ),
                (
                    "funded",
                    tx(0x01),
                    EscrowEvent::Funded {
                        amount: Amount(30_000),
                    },
                ),
                (
                    "completed",
                    tx(0x02),
                    EscrowEvent::Completed {
                        result_hash: [0xe5; 32],
                    },
                ),
                (
                    "dispute_raised",
                    tx(0x03),
                    EscrowEvent::DisputeRaised {
                        by: dev_id(REQUESTER),
                        reason_hash: [0xf6; 32],
                        evidence: vec![cid("bafy-reason"), cid("ipfs://bafy-logs")],
                        deadline_ms: at(90_000_000),
                    },
                ),
                (
                    "evidence_added",
                    tx(0x04),
                    EscrowEvent::EvidenceAdded {
                        by: dev_id(PROVIDER),
                        cid: cid("bafy-counter"),
                    },
                ),
                (
                    "voted_arb1",
                    tx(0x05),
                    EscrowEvent::Voted {
                        by: dev_id(ARB1),
                        outcome: Outcome::Split {
                            provider_bps: 2_500,
                        },
                    },
                ),
                (
                    "voted_arb2",
                    tx(0x06),
                    EscrowEvent::Voted {
                        by: dev_id(ARB2),
                        outcome: Outcome::Split {
                            provider_bps: 2_500,
                        },
                    },
                ),
                (
                    "resolved",
                    tx(0x06),
                    EscrowEvent::Resolved {
                        to_provider: Amount(7_500),
                        to_requester: Amount(22_500),
                    },
                ),
            ],
        ),
        (
            "single_expired",
            ESCROW_SINGLE,
            vec![
                ("created", tx(0x11), created(EscrowKind::Single, 10_000)),
                ("expired", hook(86_401), EscrowEvent::Expired),
            ],
        ),
        (
            "both_parties_refund",
            ESCROW_BOTH,
            vec![
                (
                    "created",
                    tx(0x21),
                    created(EscrowKind::BothParties, 20_000),
                ),
                (
                    "funded",
                    tx(0x22),
                    EscrowEvent::Funded {
                        amount: Amount(20_000),
                    },
                ),
                (
                    "approved_provider",
                    tx(0x23),
                    EscrowEvent::Approved {
                        by: dev_id(PROVIDER),
                        decision: Decision::Refund,
                    },
                ),
                (
                    "approved_requester",
                    tx(0x24),
                    EscrowEvent::Approved {
                        by: dev_id(REQUESTER),
                        decision: Decision::Refund,
                    },
                ),
                (
                    "refunded",
                    tx(0x24),
                    EscrowEvent::Refunded {
                        to_requester: Amount(20_000),
                        cause: SettleCause::Approval,
                    },
                ),
            ],
        ),
        (
            "time_locked_release",
            ESCROW_TIME_LOCKED,
            vec![
                (
                    "created",
                    tx(0x31),
                    created(
                        EscrowKind::TimeLocked {
                            release_after_ms: at(43_200_000),
                        },
                        40_000,
                    ),
                ),
                (
                    "funded",
                    tx(0x32),
                    EscrowEvent::Funded {
                        amount: Amount(40_000),
                    },
                ),
                (
                    "completed",
                    tx(0x33),
                    EscrowEvent::Completed {
                        result_hash: [0x77; 32],
                    },
                ),
                (
                    "released",
                    hook(43_201),
                    EscrowEvent::Released {
                        to_provider: Amount(40_000),
                        cause: SettleCause::TimeLock,
                    },
                ),
            ],
        ),
        (
            "other_settle_causes",
            Uuid::from_u128(0xffff_ffff_ffff_ffff_ffff_ffff_ffff_ffff),
            vec![
                (
                    "released_deadline",
                    hook(u64::MAX),
                    EscrowEvent::Released {
                        to_provider: Amount(u64::MAX),
                        cause: SettleCause::Deadline,
                    },
                ),
                (
                    "refunded_dispute_deadline",
                    hook(0),
                    EscrowEvent::Refunded {
                        to_requester: Amount(1),
                        cause: SettleCause::DisputeDeadline,
                    },
                ),
                (
                    "refunded_arbitration",
                    tx(0xff),
                    EscrowEvent::Refunded {
                        to_requester: Amount(2),
                        cause: SettleCause::Arbitration,
                    },
                ),
            ],
        ),
        // A market-managed assignment escrow settled by the SLA evaluation (appended).
        (
            "market_sla_release",
            assignment_full(),
            vec![
                ("created", tx(0x41), created(EscrowKind::Single, 35_000)),
                (
                    "funded",
                    tx(0x41),
                    EscrowEvent::Funded {
                        amount: Amount(35_000),
                    },
                ),
                (
                    "completed",
                    tx(0x42),
                    EscrowEvent::Completed {
                        result_hash: [0x5a; 32],
                    },
                ),
                (
                    "released_sla",
                    tx(0x43),
                    EscrowEvent::Released {
                        to_provider: Amount(35_000),
                        cause: SettleCause::Sla,
                    },
                ),
            ],
        ),
    ]
}

fn audit_chains() -> Vec<AuditChain> {
    audit_specs()
        .into_iter()
        .map(|(name, id, events)| {
            let genesis = audit_genesis(&id);
            let mut head = genesis;
            let steps = events
                .iter()
                .map(|(step, source, event)| {
                    head = next_audit_head(&head, source, event);
                    AuditStep {
                        name: step.to_string(),
                        source: hex::encode(borsh::to_vec(source).unwrap()),
                        event: hex::encode(borsh::to_vec(event).unwrap()),
                        head: hex::encode(head),
                    }
                })
                .collect();
            let list: Vec<(EventSource, EscrowEvent)> =
                events.into_iter().map(|(_, s, e)| (s, e)).collect();
            assert_eq!(
                audit_head_of(&id, &list),
                head,
                "audit_head_of disagrees with folding next_audit_head for `{name}`"
            );
            AuditChain {
                name: name.to_string(),
                escrow_id: hex::encode(id.as_bytes()),
                genesis: hex::encode(genesis),
                steps,
            }
        })
        .collect()
}

fn keys_and_audit_file() -> KeysAndAuditFile {
    KeysAndAuditFile {
        about: "Agora golden state keys and escrow audit chains (SPEC §5). Generated by \
                contract/tests/golden.rs; see fixtures/golden/README.md. All byte strings \
                are lowercase hex."
            .to_string(),
        state_keys: key_vectors(),
        audit_chains: audit_chains(),
        assignment_ids: assignment_id_vectors(),
    }
}

// ---------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------

/// A named group of named fields, flattened from a fixture file in its field order.
struct Record {
    label: String,
    fields: Vec<(&'static str, String)>,
}

fn transaction_records(file: &TransactionsFile) -> Vec<Record> {
    let mut records = vec![Record {
        label: "header".to_string(),
        fields: vec![
            ("chain_id", file.chain_id.clone()),
            ("signing_domain", file.signing_domain.clone()),
        ],
    }];
    for (i, v) in file.vectors.iter().enumerate() {
        records.push(Record {
            label: format!("vector #{i} `{}`", v.name),
            fields: vec![
                ("name", v.name.clone()),
                ("signer_dev_key", v.signer_dev_key.to_string()),
                ("unsigned_tx", v.unsigned_tx.clone()),
                ("signing_message", v.signing_message.clone()),
                ("signer_public_key", v.signer_public_key.clone()),
                ("signature", v.signature.clone()),
                ("signed_tx", v.signed_tx.clone()),
                ("tx_hash", v.tx_hash.clone()),
            ],
        });
    }
    records
}

fn keys_and_audit_records(file: &KeysAndAuditFile) -> Vec<Record> {
    let mut records = Vec::new();
    for (i, k) in file.state_keys.iter().enumerate() {
        records.push(Record {
            label: format!("state key #{i} `{}`", k.name),
            fields: vec![("name", k.name.clone()), ("key", k.key.clone())],
        });
    }
    for (i, chain) in file.audit_chains.iter().enumerate() {
        records.push(Record {
            label: format!("audit chain #{i} `{}`", chain.name),
            fields: vec![
                ("name", chain.name.clone()),
                ("escrow_id", chain.escrow_id.clone()),
                ("genesis", chain.genesis.clone()),
                ("steps.len", chain.steps.len().to_string()),
            ],
        });
        for (j, step) in chain.steps.iter().enumerate() {
            records.push(Record {
                label: format!(
                    "audit chain #{i} `{}` step #{j} `{}`",
                    chain.name, step.name
                ),
                fields: vec![
                    ("name", step.name.clone()),
                    ("source", step.source.clone()),
                    ("event", step.event.clone()),
                    ("head", step.head.clone()),
                ],
            });
        }
    }
    for (i, v) in file.assignment_ids.iter().enumerate() {
        records.push(Record {
            label: format!("assignment id #{i} `{}`", v.name),
            fields: vec![
                ("name", v.name.clone()),
                ("request_id", v.request_id.clone()),
                ("provider", v.provider.clone()),
                ("assignment_id", v.assignment_id.clone()),
            ],
        });
    }
    records
}

/// Describes the first difference between the fixture's records and the generated ones.
fn first_difference(expected: &[Record], actual: &[Record]) -> Option<String> {
    for (n, (want, got)) in expected.iter().zip(actual).enumerate() {
        for (i, (name, want_value)) in want.fields.iter().enumerate() {
            let got_value = got.fields.get(i).map(|(_, v)| v.as_str()).unwrap_or("");
            if want_value != got_value {
                let mut message = format!(
                    "record #{n}: fixture {} vs generated {}: field `{name}` differs",
                    want.label, got.label
                );
                if let Some(at) = want_value
                    .bytes()
                    .zip(got_value.bytes())
                    .position(|(a, b)| a != b)
                {
                    let _ = write!(message, " (first at hex char {at}, byte {})", at / 2);
                }
                let _ = write!(
                    message,
                    "\n  fixture:   {want_value}\n  generated: {got_value}"
                );
                return Some(message);
            }
        }
    }
    if expected.len() != actual.len() {
        let extra = expected
            .get(actual.len())
            .map(|r| format!("fixture has extra {}", r.label))
            .or_else(|| {
                actual
                    .get(expected.len())
                    .map(|r| format!("fixture lacks {}", r.label))
            })
            .unwrap_or_default();
        return Some(format!(
            "fixture has {} records, generated {}: {extra}",
            expected.len(),
            actual.len()
        ));
    }
    None
}

fn update_requested() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1")
}

/// Compares `generated` with the fixture at `path`, or rewrites the fixture when
/// `UPDATE_GOLDEN=1`.
fn check_or_update<T: Serialize + DeserializeOwned>(
    path: &str,
    generated: &T,
    records: fn(&T) -> Vec<Record>,
) {
    if update_requested() {
        let dir = std::path::Path::new(path).parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let mut text = serde_json::to_string_pretty(generated).unwrap();
        text.push('\n');
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        return;
    }
    let regenerate = "If this wire-format change is intended, regenerate with \
                      `UPDATE_GOLDEN=1 cargo test -p agora-contract --test golden` and have \
                      the diff reviewed (see fixtures/golden/README.md).";
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading golden fixture {path}: {e}\n{regenerate}"));
    let fixture: T = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("golden fixture {path} does not parse: {e}\n{regenerate}"));
    if let Some(difference) = first_difference(&records(&fixture), &records(generated)) {
        panic!("golden mismatch in {path}\n{difference}\n{regenerate}");
    }
}

/// Every byte of every golden transaction — unsigned encoding, signing message, public key,
/// signature, signed encoding and hash — equals the committed fixture.
#[test]
fn golden_transactions_match_fixture() {
    check_or_update(TRANSACTIONS_PATH, &transactions_file(), transaction_records);
}

/// State keys of every namespace and the escrow audit chains (genesis head, event and source
/// encodings, each successive head) equal the committed fixture.
#[test]
fn golden_keys_and_audit_match_fixture() {
    check_or_update(
        KEYS_AND_AUDIT_PATH,
        &keys_and_audit_file(),
        keys_and_audit_records,
    );
}

/// Whether `items` are strictly increasing (sorted and distinct).
fn is_sorted<'a, T: Ord + 'a>(items: impl Iterator<Item = &'a T>) -> bool {
    let items: Vec<&T> = items.collect();
    items.windows(2).all(|pair| pair[0] < pair[1])
}

/// The golden transactions cover every `Action` variant and every `EscrowKind`, including a
/// funded arbitrated escrow with the default dispute window, one transaction with an
/// expiry height, a `Confidential` `PostRequest` with a minimum reputation, arbitrators,
/// the default window and a strict SLA (two sorted quality minimums, a non-zero penalty),
/// a minimal `Public` `PostRequest` (no capabilities, reputation, arbitrators or quality
/// minimums, no penalty, a short payload), a `Private` `PostRequest` with two sorted
/// recipients, one `PostRequest` per privacy level, and a `RateResult` with two sorted
/// scores.
#[test]
fn golden_vectors_cover_every_action_and_kind() {
    let specs = tx_specs();
    let tags: std::collections::BTreeSet<u8> =
        specs.iter().map(|s| action_tag(&s.action)).collect();
    assert_eq!(tags, (0..ACTION_VARIANTS).collect());
    let kinds: std::collections::BTreeSet<u8> = specs
        .iter()
        .filter_map(|s| match &s.action {
            Action::CreateEscrow(create) => Some(kind_tag(&create.kind)),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, (0..4).collect());
    assert!(specs.iter().any(|s| matches!(
        &s.action,
        Action::CreateEscrow(c) if c.fund && c.dispute_window_ms.is_none() && !c.arbitrators.is_empty()
    )));
    assert!(specs.iter().any(|s| s.valid_until_height.is_some()));
    assert!(specs.iter().any(|s| matches!(
        &s.action,
        Action::PostRequest(r) if r.spec.min_reputation.is_some()
            && r.window_ms.is_none()
            && !r.arbitrators.is_empty()
            && !r.spec.capabilities.is_empty()
            && r.sla.quality_min.len() == 2
            && is_sorted(r.sla.quality_min.as_slice().iter().map(|m| &m.metric))
            && !r.sla.penalty.is_zero()
            && matches!(r.privacy, Privacy::Confidential { .. })
    )));
    assert!(specs.iter().any(|s| matches!(
        &s.action,
        Action::PostRequest(r) if r.spec.min_reputation.is_none()
            && r.window_ms.is_some()
            && r.arbitrators.is_empty()
            && r.spec.capabilities.is_empty()
            && r.sla.quality_min.is_empty()
            && r.sla.penalty.is_zero()
            && matches!(&r.privacy, Privacy::Public { payload } if !payload.is_empty())
    )));
    assert!(specs.iter().any(|s| matches!(
        &s.action,
        Action::PostRequest(r) if matches!(
            &r.privacy,
            Privacy::Private { recipients } if recipients.len() == 2
                && is_sorted(recipients.as_slice().iter().map(|r| &r.provider))
                && recipients.as_slice().iter().all(|r| r.provider != s.unsigned().signer)
        )
    )));
    // Exactly one `PostRequest` per privacy level.
    let mut levels: Vec<u8> = specs
        .iter()
        .filter_map(|s| match &s.action {
            Action::PostRequest(r) => Some(privacy_tag(&r.privacy)),
            _ => None,
        })
        .collect();
    levels.sort_unstable();
    assert_eq!(levels, [0, 1, 2]);
    // The contract requires a minimum reputation on a `Confidential` request.
    assert!(specs.iter().all(|s| match &s.action {
        Action::PostRequest(r) =>
            !matches!(r.privacy, Privacy::Confidential { .. }) || r.spec.min_reputation.is_some(),
        _ => true,
    }));
    assert!(specs.iter().any(|s| matches!(
        &s.action,
        Action::RateResult { scores, .. } if scores.len() == 2
            && is_sorted(scores.as_slice().iter().map(|q| &q.metric))
    )));
    let names: std::collections::BTreeSet<&str> = specs.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), specs.len(), "vector names must be unique");
}

/// Each golden assignment id is the first 16 bytes of
/// sha256("agora/assignment/v1\0" ‖ request id ‖ provider) with the UUID version nibble set
/// to 8 and the variant bits to 10, recomputed here independently of
/// `market::assignment_id`, and distinct inputs give distinct ids.
#[test]
fn golden_assignment_ids_follow_the_documented_derivation() {
    let vectors = assignment_id_vectors();
    for v in &vectors {
        let request = hex::decode(&v.request_id).unwrap();
        let provider = hex::decode(&v.provider).unwrap();
        let digest = sha256(&[b"agora/assignment/v1\0", &request, &provider]);
        let mut id = digest[..16].to_vec();
        id[6] = (id[6] & 0x0f) | 0x80;
        id[8] = (id[8] & 0x3f) | 0x80;
        assert_eq!(v.assignment_id, hex::encode(&id), "{}", v.name);
    }
    let ids: std::collections::BTreeSet<&str> =
        vectors.iter().map(|v| v.assignment_id.as_str()).collect();
    assert_eq!(ids.len(), vectors.len());
}

/// Each golden signed transaction decodes with `SignedTx::decode`, equals the transaction it
/// was built from, re-encodes to identical bytes and passes strict signature verification.
/// The documented composition also holds: signing message = domain tag ‖ unsigned bytes,
/// signed bytes = unsigned bytes ‖ signature, hash = sha256(signed bytes), and the action
/// tag is the byte right after the envelope header.
#[test]
fn golden_signed_txs_round_trip_and_verify() {
    let file = transactions_file();
    for (spec, vector) in tx_specs().iter().zip(&file.vectors) {
        let name = spec.name;
        let bytes = hex::decode(&vector.signed_tx).unwrap();
        let decoded = SignedTx::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(decoded, spec.signed(), "{name}: decoded value");
        assert_eq!(decoded.to_bytes(), bytes, "{name}: re-encoding");
        assert_eq!(decoded.verify_signature(), Ok(()), "{name}: signature");
        assert_eq!(
            hex::encode(decoded.hash()),
            vector.tx_hash,
            "{name}: tx hash"
        );

        let unsigned = hex::decode(&vector.unsigned_tx).unwrap();
        let mut message = TX_SIGNING_DOMAIN.to_vec();
        message.extend_from_slice(&unsigned);
        assert_eq!(hex::encode(&message), vector.signing_message, "{name}");
        let mut signed = unsigned.clone();
        signed.extend_from_slice(&hex::decode(&vector.signature).unwrap());
        assert_eq!(signed, bytes, "{name}: signed = unsigned ‖ signature");
        assert_eq!(sha256(&[&bytes]), decoded.hash(), "{name}: hash");
        assert_eq!(
            vector.signer_public_key,
            hex::encode(account_of(&dev_key(spec.signer)).0),
            "{name}: signer"
        );
        let layout = Layout::of(&decoded.tx);
        assert_eq!(bytes[layout.action], action_tag(&spec.action), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Decoding and verification of crafted mutations
// ---------------------------------------------------------------------------------------

/// Byte offsets inside an encoded transaction (signed or unsigned; they share a prefix).
struct Layout {
    chain_id: usize,
    option_tag: usize,
    action: usize,
}

impl Layout {
    fn of(tx: &UnsignedTx) -> Layout {
        let chain_id = 4;
        let option_tag = chain_id + tx.chain_id.as_str().len() + 32 + 8;
        let action = option_tag
            + 1
            + if tx.valid_until_height.is_some() {
                8
            } else {
                0
            };
        Layout {
            chain_id,
            option_tag,
            action,
        }
    }
}

fn golden(name: &str) -> TxSpec {
    tx_specs()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no golden vector `{name}`"))
}

fn golden_bytes(name: &str) -> (SignedTx, Vec<u8>) {
    let signed = golden(name).signed();
    let bytes = signed.to_bytes();
    assert_eq!(SignedTx::decode(&bytes), Ok(signed.clone()));
    (signed, bytes)
}

/// One byte appended to a valid signed transaction makes it `Malformed`.
#[test]
fn decode_rejects_trailing_byte() {
    for spec in tx_specs() {
        let mut bytes = spec.signed().to_bytes();
        bytes.push(0);
        assert_eq!(
            SignedTx::decode(&bytes),
            Err(TxError::Malformed),
            "{}",
            spec.name
        );
    }
}

/// Every action tag past the last variant is `Malformed`.
#[test]
fn decode_rejects_unknown_action_tag() {
    let (signed, bytes) = golden_bytes("transfer");
    let at = Layout::of(&signed.tx).action;
    assert_eq!(bytes[at], 0);
    for tag in ACTION_VARIANTS..=u8::MAX {
        let mut bytes = bytes.clone();
        bytes[at] = tag;
        assert_eq!(
            SignedTx::decode(&bytes),
            Err(TxError::Malformed),
            "tag {tag}"
        );
    }
}

/// A `CreateEscrow` with 16 arbitrators decodes; the same bytes with a 17th arbitrator
/// fully present (length prefix 17) are `Malformed`, as is a length prefix of `u32::MAX`.
#[test]
fn decode_rejects_oversize_arbitrators() {
    let mut spec = golden("create_escrow_arbitrators_funded_default_window");
    let Action::CreateEscrow(create) = &mut spec.action else {
        unreachable!()
    };
    create.arbitrators = arbitrators(&(10..26).collect::<Vec<_>>());
    create.kind = EscrowKind::Arbitrators {
        required: 16,
        total: 16,
    };
    let signed = spec.signed();
    let bytes = signed.to_bytes();
    assert_eq!(SignedTx::decode(&bytes), Ok(signed.clone()));

    // tag, id, provider, amount, kind (tag, required, total), then the length prefix.
    let prefix = Layout::of(&signed.tx).action + 1 + 16 + 32 + 8 + 3;
    assert_eq!(bytes[prefix..prefix + 4], 16u32.to_le_bytes());

    let mut oversize = bytes.clone();
    oversize.splice(prefix..prefix + 4, 17u32.to_le_bytes());
    oversize.splice(prefix + 4..prefix + 4, dev_id(26).0);
    assert_eq!(SignedTx::decode(&oversize), Err(TxError::Malformed));

    let mut huge = bytes;
    huge.splice(prefix..prefix + 4, u32::MAX.to_le_bytes());
    assert_eq!(SignedTx::decode(&huge), Err(TxError::Malformed));
}

/// A `RaiseDispute` with 16 evidence entries decodes; with a 17th entry fully present
/// (length prefix 17) it is `Malformed`, as is a length prefix of `u32::MAX`.
#[test]
fn decode_rejects_oversize_evidence() {
    let mut spec = golden("raise_dispute_with_evidence");
    let Action::RaiseDispute { evidence, .. } = &mut spec.action else {
        unreachable!()
    };
    *evidence = BoundedVec::new((0..16).map(|i| cid(&format!("cid-{i:02}"))).collect()).unwrap();
    let signed = spec.signed();
    let bytes = signed.to_bytes();
    assert_eq!(SignedTx::decode(&bytes), Ok(signed.clone()));

    // tag, id, reason_hash, then the length prefix.
    let prefix = Layout::of(&signed.tx).action + 1 + 16 + 32;
    assert_eq!(bytes[prefix..prefix + 4], 16u32.to_le_bytes());

    let mut oversize = bytes.clone();
    oversize.splice(prefix..prefix + 4, 17u32.to_le_bytes());
    oversize.splice(
        prefix + 4..prefix + 4,
        borsh::to_vec(&cid("cid-16")).unwrap(),
    );
    assert_eq!(SignedTx::decode(&oversize), Err(TxError::Malformed));

    let mut huge = bytes;
    huge.splice(prefix..prefix + 4, u32::MAX.to_le_bytes());
    assert_eq!(SignedTx::decode(&huge), Err(TxError::Malformed));
}

/// The offset of the privacy's length prefix (the `Public` payload's or the `Private`
/// recipients'), in the signed bytes of a `PostRequest` (privacy is its last field, so the
/// last field of the unsigned bytes), after checking the variant tag before it.
fn privacy_list_prefix(signed: &SignedTx, bytes: &[u8]) -> usize {
    let Action::PostRequest(request) = &signed.tx.action else {
        unreachable!()
    };
    let start = bytes.len() - 64 - borsh::to_vec(&request.privacy).unwrap().len();
    assert_eq!(bytes[start], privacy_tag(&request.privacy));
    start + 1
}

/// A `Public` payload of 4096 bytes decodes; with a 4097th byte present (length prefix
/// 4097) it is `Malformed`, as is a length prefix of `u32::MAX`.
#[test]
fn decode_rejects_oversize_public_payload() {
    let mut spec = golden("post_request_minimal");
    let Action::PostRequest(request) = &mut spec.action else {
        unreachable!()
    };
    request.privacy = Privacy::Public {
        payload: bytes(&[0x70; MAX_PAYLOAD_BYTES as usize]),
    };
    let signed = spec.signed();
    let bytes = signed.to_bytes();
    assert_eq!(SignedTx::decode(&bytes), Ok(signed.clone()));

    let prefix = privacy_list_prefix(&signed, &bytes);
    assert_eq!(bytes[prefix..prefix + 4], 4096u32.to_le_bytes());

    let mut oversize = bytes.clone();
    oversize.splice(prefix..prefix + 4, 4097u32.to_le_bytes());
    oversize.splice(prefix + 4..prefix + 4, [0x70]);
    assert_eq!(SignedTx::decode(&oversize), Err(TxError::Malformed));

    let mut huge = bytes;
    huge.splice(prefix..prefix + 4, u32::MAX.to_le_bytes());
    assert_eq!(SignedTx::decode(&huge), Err(TxError::Malformed));
}

/// A `Private` list of 8 recipients decodes; with a 9th recipient fully present (length
/// prefix 9) it is `Malformed`, as is a length prefix of `u32::MAX`.
#[test]
fn decode_rejects_oversize_private_recipients() {
    let mut spec = golden("post_request_private_two_recipients");
    let Action::PostRequest(request) = &mut spec.action else {
        unreachable!()
    };
    let eight: Vec<(usize, &[u8])> = (10..10 + MAX_RECIPIENTS as usize)
        .map(|who| (who, &[0xc0u8; 4][..]))
        .collect();
    request.privacy = private(&eight);
    let signed = spec.signed();
    let bytes = signed.to_bytes();
    assert_eq!(SignedTx::decode(&bytes), Ok(signed.clone()));

    let prefix = privacy_list_prefix(&signed, &bytes);
    assert_eq!(bytes[prefix..prefix + 4], 8u32.to_le_bytes());

    // A 9th recipient, appended after the eight (the end of the unsigned bytes).
    let Privacy::Private { recipients } = private(&[(30, &[0xc0; 4])]) else {
        unreachable!()
    };
    let ninth = borsh::to_vec(&recipients.as_slice()[0]).unwrap();
    let end = bytes.len() - 64;
    let mut oversize = bytes.clone();
    oversize.splice(end..end, ninth);
    oversize.splice(prefix..prefix + 4, 9u32.to_le_bytes());
    assert_eq!(SignedTx::decode(&oversize), Err(TxError::Malformed));

    let mut huge = bytes;
    huge.splice(prefix..prefix + 4, u32::MAX.to_le_bytes());
    assert_eq!(SignedTx::decode(&huge), Err(TxError::Malformed));
}

/// An `Option` tag other than 0 or 1 (here `valid_until_height` = 2) is `Malformed`.
#[test]
fn decode_rejects_option_tag_2() {
    for name in ["transfer", "transfer_valid_until_height"] {
        let (signed, mut bytes) = golden_bytes(name);
        let at = Layout::of(&signed.tx).option_tag;
        assert_eq!(bytes[at], u8::from(signed.tx.valid_until_height.is_some()));
        bytes[at] = 2;
        assert_eq!(SignedTx::decode(&bytes), Err(TxError::Malformed), "{name}");
    }
}

/// A bool encoded as 2 (here `CreateEscrow::fund`, the last field of the unsigned bytes) is
/// `Malformed`.
#[test]
fn decode_rejects_non_canonical_bool() {
    let (_, mut bytes) = golden_bytes("create_escrow_arbitrators_funded_default_window");
    let at = bytes.len() - 64 - 1;
    assert_eq!(bytes[at], 1, "fund = true");
    bytes[at] = 2;
    assert_eq!(SignedTx::decode(&bytes), Err(TxError::Malformed));
}

/// A chain id with an uppercase character is not a valid label: `Malformed`.
#[test]
fn decode_rejects_uppercase_label() {
    let (signed, mut bytes) = golden_bytes("transfer");
    let at = Layout::of(&signed.tx).chain_id;
    assert_eq!(bytes[at], b'a');
    bytes[at] = b'A';
    assert_eq!(SignedTx::decode(&bytes), Err(TxError::Malformed));
}

/// A signature with one byte flipped (in `R`, and separately in `S`) still decodes, but
/// fails verification with `BadSignature`.
#[test]
fn flipped_signature_byte_fails_verification() {
    let (signed, bytes) = golden_bytes("transfer");
    let signature_start = bytes.len() - 64;
    for offset in [0, 31, 32, 62] {
        let mut tampered = bytes.clone();
        tampered[signature_start + offset] ^= 0x01;
        let decoded = SignedTx::decode(&tampered).expect("a flipped signature still decodes");
        assert_eq!(decoded.tx, signed.tx);
        assert_eq!(
            decoded.verify_signature(),
            Err(TxError::BadSignature),
            "byte {offset}"
        );
    }
}

/// Replacing `S` by `S + ℓ` (the same scalar mod ℓ, so a lax verifier that reduces `S`
/// would accept) is rejected with `BadSignature`: `S` must be canonical.
#[test]
fn non_canonical_s_fails_verification() {
    for spec in tx_specs() {
        let signed = spec.signed();
        let mut s_plus_l = [0u8; 32];
        let mut carry = 0u16;
        for (i, out) in s_plus_l.iter_mut().enumerate() {
            let sum = u16::from(signed.signature[32 + i]) + u16::from(ED25519_ORDER_LE[i]) + carry;
            *out = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + ℓ fits in 32 bytes since S < ℓ < 2^253");
        let mut tampered = signed.clone();
        tampered.signature[32..].copy_from_slice(&s_plus_l);
        let decoded = SignedTx::decode(&tampered.to_bytes()).expect("still decodes");
        assert_eq!(
            decoded.verify_signature(),
            Err(TxError::BadSignature),
            "{}",
            spec.name
        );
    }
}

/// The encodings of the eight small-order points of edwards25519 (canonical encodings).
const SMALL_ORDER_POINTS: [&str; 8] = [
    // identity (order 1)
    "0100000000000000000000000000000000000000000000000000000000000000",
    // order 2
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // order 4
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    // order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

/// Non-canonical encodings of small-order points (y ≥ p, or the sign bit set on x = 0),
/// which decompress to the same small-order points.
const NON_CANONICAL_SMALL_ORDER_POINTS: [&str; 6] = [
    // identity with the sign bit set
    "0100000000000000000000000000000000000000000000000000000000000080",
    // y = p + 1 ≡ 1: the identity, both signs
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    // y = p ≡ 0: order 4, both signs
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    // order 2 with the sign bit set
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// A transaction whose signer is a small-order public key is rejected with `BadSignature`
/// whatever the signature: for the identity key with `R` = identity and `S` = 0, the
/// signature that a lax (non-strict) verifier accepts for every message, and for each of
/// the eight small-order points and their non-canonical encodings with a signature made by
/// a real key over the message.
#[test]
fn small_order_public_key_fails_verification() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut forged = [0u8; 64];
    forged[0] = 1; // R = identity, S = 0

    let mut unsigned = golden("transfer").unsigned();
    unsigned.signer = AccountId(identity);
    let message = unsigned.signing_message();
    let lax = VerifyingKey::from_bytes(&identity).unwrap();
    assert!(
        lax.verify(&message, &Signature::from_bytes(&forged))
            .is_ok(),
        "the forged signature passes non-strict verification, so this case matters"
    );
    let tx = SignedTx {
        tx: unsigned,
        signature: forged,
    };
    let decoded = SignedTx::decode(&tx.to_bytes()).expect("an account id is any 32 bytes");
    assert_eq!(decoded.verify_signature(), Err(TxError::BadSignature));

    for point in SMALL_ORDER_POINTS
        .iter()
        .chain(&NON_CANONICAL_SMALL_ORDER_POINTS)
    {
        let key: [u8; 32] = hex::decode(point).unwrap().try_into().unwrap();
        assert!(VerifyingKey::from_bytes(&key).unwrap().is_weak(), "{point}");
        let mut unsigned = golden("transfer").unsigned();
        unsigned.signer = AccountId(key);
        let signed = unsigned.sign(&dev_key(REQUESTER));
        assert_eq!(
            signed.verify_signature(),
            Err(TxError::BadSignature),
            "{point}"
        );
        let forged_tx = SignedTx {
            tx: signed.tx.clone(),
            signature: forged,
        };
        assert_eq!(
            forged_tx.verify_signature(),
            Err(TxError::BadSignature),
            "{point} with R = identity, S = 0"
        );
    }
}
