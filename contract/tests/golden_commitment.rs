//! Golden vectors of the state commitment, state proofs and signed headers (SPEC §7).
//!
//! Every input is fixed: keys and values built from fixed seeds (dev keys, fixed UUIDs,
//! synthetic accounts `sha256("agora-golden-account" ‖ u64 BE i)`), and headers signed with
//! the devnet sequencer key (seed `sha256("agora-devnet-sequencer")`); ed25519 signing is
//! deterministic. The vectors are computed with the contract's own `StateTree`, hashing
//! and header code and compared with `fixtures/golden/{commitment,proofs,headers}.json`;
//! the first differing JSON path is named.
//!
//! An intended change is recorded by regenerating:
//! `UPDATE_GOLDEN=1 cargo test -p agora-contract --test golden_commitment`, then reviewing
//! the diff (see `fixtures/golden/README.md`).
//!
//! The rest of the file checks the committed bytes themselves: every golden proof decodes,
//! re-encodes identically and verifies against the golden header; it proves only what it
//! claims; and every one-byte change to a proof or to a signed header is rejected.
//! `golden_reference.rs` checks the same files with a second implementation written from
//! `docs/wire.md` alone.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use agora_contract::block::{init_chain, ChainHead, Genesis, Receipt, TxStatus};
use agora_contract::codec::encode;
use agora_contract::commit::{
    bucket_of, empty_subtree_roots, leaf_hash, list_leaf, list_root, node_hash, value_hash,
    StateProof, StateTree, BUCKETS, BUCKET_BITS, EMPTY_ROOT, LEAF_TAG, LIST_LEAF_TAG,
    MAX_PROOF_BYTES, NODE_TAG, PROOF_VERSION,
};
use agora_contract::escrow::{Approval, Dispute, EscrowStatus, Vote};
use agora_contract::event::{EscrowEvent, Event, MarketEvent, SettleCause};
use agora_contract::header::{
    hook_events_hash, Header, HeaderError, SignedHeader, HEADER_SIGNING_DOMAIN, HEADER_VERSION,
};
use agora_contract::ids::sha256;
use agora_contract::market::prices::PriceBucket;
use agora_contract::market::privacy::{Privacy, Sealed};
use agora_contract::market::{
    assignment_id, Assignment, AssignmentStatus, MarketCounters, Offer, OfferStatus, Provider,
    QualityMin, Request, RequestStatus, Sla, TaskSpec,
};
use agora_contract::state::keys;
use agora_contract::tx::account_of;
use agora_contract::wallet::Account;
use agora_contract::{
    AccountId, Amount, BoundedVec, Cid, Decision, Escrow, EscrowKind, Hash, Label, Outcome, Uuid,
};
use common::{dev_id, ARB1, ARB2, ARB3, GENESIS_MS, MINTER, PROVIDER, REQUESTER};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// Paths relative to the package root, where `cargo test` runs test binaries (a path
// fixed at compile time breaks when a build cache is shared between checkouts).
const COMMITMENT_PATH: &str = "../fixtures/golden/commitment.json";
const PROOFS_PATH: &str = "../fixtures/golden/proofs.json";
const HEADERS_PATH: &str = "../fixtures/golden/headers.json";

/// The chain id of every golden header (the same as the golden transactions').
const GOLDEN_CHAIN_ID: &str = "agora-golden";
/// The devnet sequencer's public key (`docs/genesis.md`): the golden headers' signer.
const DEVNET_SEQUENCER: &str = "29d7322e0b41ec2813fc02713a854475daa16729c09a772c33161465c871a50f";

/// Escrow records stored in the proof state.
const ESCROW_FUNDED: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_9e01);
const ESCROW_DISPUTED: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_9e02);
/// Market objects stored in the proof state.
const OFFER: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_6b01);
const REQUEST: Uuid = Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_7c01);

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

/// The devnet sequencer key: seed = sha256("agora-devnet-sequencer").
fn sequencer_key() -> SigningKey {
    SigningKey::from_bytes(&sequencer_seed())
}

fn sequencer_seed() -> Hash {
    sha256(&[b"agora-devnet-sequencer"])
}

fn chain_id() -> Label {
    Label::new(GOLDEN_CHAIN_ID).unwrap()
}

/// Synthetic account `i`: id = sha256("agora-golden-account" ‖ u64 BE i).
fn synthetic_id(i: u64) -> AccountId {
    AccountId(sha256(&[b"agora-golden-account", &i.to_be_bytes()]))
}

fn synthetic_key(i: u64) -> Vec<u8> {
    keys::account(&synthetic_id(i))
}

/// The record of synthetic account `i`: borsh `Account { available: 1 000 + i, nonce: i % 3 }`.
fn synthetic_value(i: u64) -> Vec<u8> {
    encode(&Account {
        available: Amount(1_000 + i),
        nonce: i % 3,
    })
}

/// The first `count` synthetic accounts (from `start` on) whose key falls in `bucket`.
fn synthetic_in_bucket(bucket: u16, start: u64, count: usize) -> Vec<u64> {
    (start..)
        .filter(|i| bucket_of(&synthetic_key(*i)) == bucket)
        .take(count)
        .collect()
}

/// The first two synthetic accounts whose keys share a bucket.
fn synthetic_pair() -> (u64, u64) {
    let mut seen: BTreeMap<u16, u64> = BTreeMap::new();
    for i in 0.. {
        if let Some(first) = seen.insert(bucket_of(&synthetic_key(i)), i) {
            return (first, i);
        }
    }
    unreachable!()
}

/// Eight synthetic accounts in the bucket of synthetic account 0, sorted by key: the proof
/// state holds positions 1, 2, 4, 5 and 6; 0, 3 and 7 stay absent to be proven absent
/// before the first, between two, and after the last leaf.
/// (The searches hash about 600 000 keys, so their results are computed once per run.)
fn crowded_bucket() -> (u16, Vec<u64>) {
    static FOUND: OnceLock<(u16, Vec<u64>)> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let bucket = bucket_of(&synthetic_key(0));
            let mut found = synthetic_in_bucket(bucket, 0, 8);
            found.sort_by_key(|i| synthetic_key(*i));
            (bucket, found)
        })
        .clone()
}

/// The first synthetic account from 1 000 000 on in the bucket of account(dev 0), which
/// holds that one key in the proof state.
fn lonely_neighbour() -> u64 {
    static FOUND: OnceLock<u64> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let bucket = bucket_of(&keys::account(&dev_id(REQUESTER)));
        synthetic_in_bucket(bucket, 1_000_000, 1)[0]
    })
}

const CROWDED_PRESENT: [usize; 5] = [1, 2, 4, 5, 6];

fn genesis() -> Genesis {
    Genesis {
        chain_id: chain_id(),
        genesis_time_ms: GENESIS_MS,
        mint_authority: Some(dev_id(MINTER)),
        allocations: vec![
            (dev_id(REQUESTER), Amount(1_000_000_000_000)),
            (dev_id(PROVIDER), Amount(500_000_000_000)),
        ],
    }
}

/// A funded `Single` escrow with one approval.
fn escrow_funded() -> Escrow {
    Escrow {
        id: ESCROW_FUNDED,
        requester: dev_id(REQUESTER),
        provider: dev_id(PROVIDER),
        amount: Amount(10_000),
        held: Amount(10_000),
        kind: EscrowKind::Single,
        arbitrators: BoundedVec::empty(),
        deadline_ms: GENESIS_MS + 86_400_000,
        dispute_window_ms: 3_600_000,
        job_ref: [0xa1; 32],
        created_at_ms: GENESIS_MS + 1_000,
        status: EscrowStatus::Funded,
        result_hash: None,
        approvals: vec![Approval {
            by: dev_id(REQUESTER),
            decision: Decision::Release,
        }],
        dispute: None,
        audit_head: [0x3c; 32],
        managed_by_market: false,
    }
}

/// A disputed `Arbitrators` escrow with a result, evidence and one vote.
fn escrow_disputed() -> Escrow {
    Escrow {
        id: ESCROW_DISPUTED,
        requester: dev_id(REQUESTER),
        provider: dev_id(PROVIDER),
        amount: Amount(30_000),
        held: Amount(30_000),
        kind: EscrowKind::Arbitrators {
            required: 2,
            total: 3,
        },
        arbitrators: BoundedVec::new(vec![dev_id(ARB1), dev_id(ARB2), dev_id(ARB3)]).unwrap(),
        deadline_ms: GENESIS_MS + 604_800_000,
        dispute_window_ms: 86_400_000,
        job_ref: [0xc3; 32],
        created_at_ms: GENESIS_MS + 1_000,
        status: EscrowStatus::Disputed,
        result_hash: Some([0xe5; 32]),
        approvals: Vec::new(),
        dispute: Some(Dispute {
            raised_by: dev_id(REQUESTER),
            reason_hash: [0xf6; 32],
            evidence: BoundedVec::new(vec![Cid::new("bafy-reason").unwrap()]).unwrap(),
            deadline_ms: GENESIS_MS + 90_000_000,
            from_status: EscrowStatus::Completed,
            votes: vec![Vote {
                by: dev_id(ARB1),
                outcome: Outcome::Split {
                    provider_bps: 2_500,
                },
            }],
        }),
        audit_head: [0x4d; 32],
        managed_by_market: false,
    }
}

fn labels<const N: u32>(texts: &[&str]) -> BoundedVec<Label, N> {
    BoundedVec::new(texts.iter().map(|t| Label::new(t).unwrap()).collect()).unwrap()
}

/// Market records stored in the proof state: one of each kind, with every optional part
/// present somewhere.
fn market_entries() -> Vec<Entry> {
    let inference = Label::new("inference").unwrap();
    let sla = Sla {
        max_response_ms: 60_000,
        max_duration_ms: 1_200_000,
        quality_min: BoundedVec::new(vec![QualityMin {
            metric: Label::new("accuracy").unwrap(),
            min_bps: 9_500,
        }])
        .unwrap(),
        penalty: Amount(500),
        review_window_ms: 3_600_000,
    };
    let assignment = assignment_id(&REQUEST, &dev_id(PROVIDER));
    let provider = Provider {
        account: dev_id(PROVIDER),
        capabilities: labels(&["cuda", "gpu-a100"]),
        score: 60,
        registered_at_ms: GENESIS_MS + 1_000,
    };
    let offer = Offer {
        id: OFFER,
        provider: dev_id(PROVIDER),
        task_types: labels(&["embedding", "inference"]),
        ask_per_unit: Amount(120),
        capacity_units: 500,
        expires_at_ms: GENESIS_MS + 3_600_000,
        sequence: 7,
        status: OfferStatus::Open,
    };
    let request = Request {
        id: REQUEST,
        requester: dev_id(REQUESTER),
        spec: TaskSpec {
            task_type: inference.clone(),
            capabilities: labels(&["cuda"]),
            min_reputation: Some(50),
            max_duration_ms: 1_800_000,
        },
        bid_per_unit: Amount(150),
        units: 250,
        units_assigned: 250,
        reserved: Amount(0),
        window_ends_ms: GENESIS_MS + 900_000,
        max_providers: 2,
        share_units: 125,
        providers: vec![dev_id(PROVIDER)],
        arbitrators: BoundedVec::new(vec![dev_id(ARB1)]).unwrap(),
        sla: sla.clone(),
        privacy: Privacy::Confidential {
            commitment: sha256(&[b"golden confidential payload"]),
        },
        status: RequestStatus::Filled,
        created_at_ms: GENESIS_MS + 2_000,
    };
    let assigned = Assignment {
        id: assignment,
        request_id: REQUEST,
        requester: dev_id(REQUESTER),
        provider: dev_id(PROVIDER),
        offer_id: Some(OFFER),
        units: 250,
        ask_per_unit: Amount(120),
        price_per_unit: Amount(72),
        cost: Amount(18_000),
        sla,
        assigned_at_ms: GENESIS_MS + 2_000,
        delivery_deadline_ms: GENESIS_MS + 1_802_000,
        started_at_ms: Some(GENESIS_MS + 3_000),
        submitted_at_ms: None,
        result_hash: None,
        review_ends_ms: None,
        dispute_check_ms: None,
        status: AssignmentStatus::Started,
        violations: 0,
        penalty_charged: Amount(0),
    };
    let price = PriceBucket {
        volume_units: 250,
        notional: 18_000,
        price_sum: 72,
        count: 1,
        min_price: Amount(72),
        max_price: Amount(72),
    };
    let payload = Sealed {
        provider: dev_id(PROVIDER),
        ciphertext: BoundedVec::new(vec![0xd1; 24]).unwrap(),
    };
    let hour = (GENESIS_MS + 2_000) / 3_600_000;
    vec![
        entry(
            "market_counters",
            keys::market_counters(),
            encode(&MarketCounters {
                next_offer_sequence: 8,
            }),
        ),
        entry(
            "provider(dev 1)",
            keys::provider(&dev_id(PROVIDER)),
            encode(&provider),
        ),
        entry("offer", keys::offer(&OFFER), encode(&offer)),
        entry(
            "offer_book(inference, 120, 7, offer): index entry, empty value",
            keys::offer_book(&inference, 120, 7, &OFFER),
            encode(&()),
        ),
        entry("request", keys::request(&REQUEST), encode(&request)),
        entry(
            "assignment",
            keys::assignment(&assignment),
            encode(&assigned),
        ),
        entry(
            "deadline(assignment): index entry, empty value",
            keys::deadline(GENESIS_MS + 1_802_000, keys::TAG_ASSIGNMENT, &assignment),
            encode(&()),
        ),
        entry(
            "price_bucket(inference, hour)",
            keys::price_bucket(&inference, hour),
            encode(&price),
        ),
        entry(
            "delivered_payload(assignment)",
            keys::delivered_payload(&assignment),
            encode(&payload),
        ),
        entry(
            "holding(dev 0, escrow, funded): index entry, empty value",
            keys::holding(&dev_id(REQUESTER), keys::TAG_ESCROW, &ESCROW_FUNDED),
            encode(&()),
        ),
    ]
}

/// One named state entry.
struct Entry {
    name: String,
    key: Vec<u8>,
    value: Vec<u8>,
}

fn entry(name: impl Into<String>, key: Vec<u8>, value: Vec<u8>) -> Entry {
    Entry {
        name: name.into(),
        key,
        value,
    }
}

/// The entries genesis writes, named by their key.
fn genesis_entries() -> Vec<Entry> {
    let writes = init_chain(&genesis()).unwrap();
    let name_of = |key: &[u8]| -> String {
        match key {
            [0x00, 0x01] => "chain_config".into(),
            [0x00, 0x02] => "supply".into(),
            [0x00, 0x03] => "chain_head".into(),
            _ if key == keys::account(&dev_id(REQUESTER)) => "account(dev 0)".into(),
            _ if key == keys::account(&dev_id(PROVIDER)) => "account(dev 1)".into(),
            _ => panic!("unexpected genesis key {}", hex::encode(key)),
        }
    };
    writes
        .into_iter()
        .map(|(key, value)| entry(name_of(&key), key.clone(), value.unwrap()))
        .collect()
}

/// The named states, smallest first. The last one is the proof state.
fn states() -> Vec<(&'static str, Vec<Entry>)> {
    let synthetic = |i: u64| {
        entry(
            format!("account(synthetic {i})"),
            synthetic_key(i),
            synthetic_value(i),
        )
    };
    let (a, b) = synthetic_pair();
    let (_, crowded) = crowded_bucket();
    let mut proof_state = genesis_entries();
    proof_state.push(entry(
        "escrow(funded)",
        keys::escrow(&ESCROW_FUNDED),
        encode(&escrow_funded()),
    ));
    proof_state.push(entry(
        "escrow(disputed)",
        keys::escrow(&ESCROW_DISPUTED),
        encode(&escrow_disputed()),
    ));
    proof_state.extend(market_entries());
    for position in CROWDED_PRESENT {
        proof_state.push(synthetic(crowded[position]));
    }
    vec![
        ("empty", Vec::new()),
        (
            "one_key",
            vec![entry(
                "account(dev 0)",
                keys::account(&dev_id(REQUESTER)),
                encode(&Account {
                    available: Amount(1_000_000_000_000),
                    nonce: 0,
                }),
            )],
        ),
        ("two_keys_one_bucket", vec![synthetic(a), synthetic(b)]),
        ("genesis", genesis_entries()),
        ("proof_state", proof_state),
    ]
}

fn tree_of(entries: &[Entry]) -> StateTree {
    let mut tree = StateTree::new();
    for e in entries {
        tree.set(&e.key, Some(&e.value));
    }
    tree.commit();
    tree
}

fn proof_state() -> (Vec<Entry>, StateTree) {
    let (_, entries) = states().pop().unwrap();
    let tree = tree_of(&entries);
    (entries, tree)
}

// ---------------------------------------------------------------------------------------
// Fixture shapes
// ---------------------------------------------------------------------------------------

/// `fixtures/golden/commitment.json`.
#[derive(Debug, Serialize, Deserialize)]
struct CommitmentFile {
    about: String,
    constants: Constants,
    value_hashes: Vec<ValueHashVector>,
    leaf_hashes: Vec<LeafHashVector>,
    node_hashes: Vec<NodeHashVector>,
    buckets_of: Vec<BucketOfVector>,
    list_roots: Vec<ListRootVector>,
    states: Vec<StateVector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Constants {
    buckets: u32,
    bucket_bits: u32,
    leaf_tag: String,
    node_tag: String,
    list_leaf_tag: String,
    empty_root: String,
    /// E₀ … E₁₆: roots of all-empty subtrees of the top tree; E₁₆ is the empty state root.
    empty_subtree_roots: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ValueHashVector {
    name: String,
    value: String,
    value_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct LeafHashVector {
    name: String,
    key: String,
    value_hash: String,
    /// 0x00 ‖ u32 LE len(key) ‖ key ‖ value_hash.
    preimage: String,
    leaf_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct NodeHashVector {
    name: String,
    left: String,
    right: String,
    /// 0x01 ‖ left ‖ right.
    preimage: String,
    node_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct BucketOfVector {
    name: String,
    key: String,
    key_sha256: String,
    bucket: u16,
}

#[derive(Debug, Serialize, Deserialize)]
struct ListRootVector {
    name: String,
    items: Vec<String>,
    /// Every level of the tree, leaves first, root last (absent for the empty list).
    levels: Vec<Vec<String>>,
    root: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateVector {
    name: String,
    entries: Vec<EntryVector>,
    /// The non-empty buckets in bucket order.
    buckets: Vec<BucketVector>,
    state_root: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct EntryVector {
    name: String,
    key: String,
    value: String,
    bucket: u16,
    value_hash: String,
    leaf_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct BucketVector {
    bucket: u16,
    /// The bucket's keys in key order (its leaves' order).
    keys: Vec<String>,
    /// The bucket tree's levels, leaf hashes first, the bucket root last.
    levels: Vec<Vec<String>>,
    root: String,
    /// The top-tree nodes above the bucket root, from its parent (heap index
    /// (65 536 + bucket) / 2) up to the state root.
    top_path: Vec<String>,
}

/// `fixtures/golden/proofs.json`.
#[derive(Debug, Serialize, Deserialize)]
struct ProofsFile {
    about: String,
    /// The state (in `commitment.json`) the proofs are taken from.
    state: String,
    state_root: String,
    /// The header (in `headers.json`) whose `state_root` the proofs verify against.
    header: String,
    vectors: Vec<ProofVector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProofVector {
    name: String,
    /// `membership`, `absent_empty_bucket`, `absent_before_first`, `absent_after_last` or
    /// `absent_between`.
    shape: String,
    key: String,
    /// The stored value (hex), or null when the key is absent.
    value: Option<String>,
    bucket: u16,
    /// The borsh `StateProof`.
    proof: String,
    size_bytes: usize,
    decoded: DecodedProof,
    /// Derived while verifying: the shown leaves' hashes, the bucket root they lead to.
    leaf_hashes: Vec<String>,
    bucket_root: String,
    /// What `StateProof::verify` returns: the key's value hash, or null (absent).
    verified_value_hash: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DecodedProof {
    version: u8,
    bucket_leaf_count: u32,
    leaves: Vec<DecodedLeaf>,
    bucket_proof: Vec<String>,
    top_proof: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DecodedLeaf {
    index: u32,
    key: String,
    value_hash: String,
}

/// `fixtures/golden/headers.json`.
#[derive(Debug, Serialize, Deserialize)]
struct HeadersFile {
    about: String,
    chain_id: String,
    signing_domain: String,
    /// The signing key's 32-byte ed25519 seed: sha256("agora-devnet-sequencer").
    sequencer_seed: String,
    sequencer: String,
    headers: Vec<HeaderVector>,
    /// One borsh `Event` of every kind (every `EscrowEvent` and `MarketEvent` variant), as
    /// receipts and hook events carry them.
    events: Vec<EventVector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EventVector {
    name: String,
    event: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct HeaderVector {
    name: String,
    fields: HeaderFields,
    /// The block's transaction hashes: the `tx_root` items.
    tx_hashes: Vec<String>,
    /// The block's borsh `Receipt`s: the `receipts_root` items.
    receipts: Vec<String>,
    /// borsh `Vec<Event>` of the block hook: sha256 of it is `hook_events_hash`.
    hook_events: String,
    header_borsh: String,
    signing_message: String,
    hash: String,
    signature: String,
    signed_header_borsh: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct HeaderFields {
    version: u8,
    chain_id: String,
    height: u64,
    prev_hash: String,
    time_ms: u64,
    tx_count: u32,
    tx_root: String,
    receipts_root: String,
    hook_events_hash: String,
    state_root: String,
    proposer: String,
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// Every level of an rs_merkle tree over `leaves` with our hasher, leaves first: a parent
/// is `node_hash(left, right)`; the last node of an odd level is carried up unchanged.
/// Written out here (not taken from rs_merkle) so the fixture shows each level, and
/// checked against the contract's roots where it is used.
fn levels(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    if leaves.is_empty() {
        return Vec::new();
    }
    let mut levels = vec![leaves.to_vec()];
    while levels.last().unwrap().len() > 1 {
        let below = levels.last().unwrap();
        let above = below
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(left, right),
                [single] => *single,
                _ => unreachable!(),
            })
            .collect();
        levels.push(above);
    }
    levels
}

fn leaf_preimage(key: &[u8], value_hash: &Hash) -> Vec<u8> {
    let mut preimage = vec![LEAF_TAG];
    preimage.extend_from_slice(&(key.len() as u32).to_le_bytes());
    preimage.extend_from_slice(key);
    preimage.extend_from_slice(value_hash);
    preimage
}

fn node_preimage(left: &Hash, right: &Hash) -> Vec<u8> {
    let mut preimage = vec![NODE_TAG];
    preimage.extend_from_slice(left);
    preimage.extend_from_slice(right);
    preimage
}

fn state_vector(name: &str, entries: &[Entry]) -> StateVector {
    let tree = tree_of(entries);
    let buckets: std::collections::BTreeSet<u16> =
        entries.iter().map(|e| bucket_of(&e.key)).collect();
    let bucket_vectors = buckets
        .into_iter()
        .map(|bucket| {
            let leaves: Vec<(Vec<u8>, Hash)> = tree
                .bucket_leaves(bucket)
                .map(|(key, hash)| (key.to_vec(), *hash))
                .collect();
            let leaf_hashes: Vec<Hash> = leaves.iter().map(|(k, h)| leaf_hash(k, h)).collect();
            let levels = levels(&leaf_hashes);
            let root = *levels.last().unwrap().first().unwrap();
            let mut index = BUCKETS as usize + usize::from(bucket);
            assert_eq!(
                tree.node(index),
                root,
                "bucket {bucket}: levels vs StateTree"
            );
            let mut top_path = Vec::new();
            while index > 1 {
                index /= 2;
                top_path.push(tree.node(index));
            }
            BucketVector {
                bucket,
                keys: leaves.iter().map(|(k, _)| hex::encode(k)).collect(),
                levels: levels.iter().map(|level| hexes(level)).collect(),
                root: hex::encode(root),
                top_path: hexes(&top_path),
            }
        })
        .collect();
    StateVector {
        name: name.to_string(),
        entries: entries
            .iter()
            .map(|e| {
                let value_hash = value_hash(&e.value);
                EntryVector {
                    name: e.name.clone(),
                    key: hex::encode(&e.key),
                    value: hex::encode(&e.value),
                    bucket: bucket_of(&e.key),
                    value_hash: hex::encode(value_hash),
                    leaf_hash: hex::encode(leaf_hash(&e.key, &value_hash)),
                }
            })
            .collect(),
        buckets: bucket_vectors,
        state_root: hex::encode(tree.root()),
    }
}

fn list_root_vector(name: &str, items: &[Vec<u8>]) -> ListRootVector {
    let leaves: Vec<Hash> = items.iter().map(|item| list_leaf(item)).collect();
    let levels = levels(&leaves);
    let root = list_root(items);
    assert_eq!(
        levels.last().map_or(EMPTY_ROOT, |top| top[0]),
        root,
        "list {name}: levels vs list_root"
    );
    ListRootVector {
        name: name.to_string(),
        items: items.iter().map(hex::encode).collect(),
        levels: levels.iter().map(|level| hexes(level)).collect(),
        root: hex::encode(root),
    }
}

fn commitment_file() -> CommitmentFile {
    let account_dev0 = encode(&Account {
        available: Amount(1_000_000_000_000),
        nonce: 0,
    });
    let value_hashes = [
        ("empty value", Vec::new()),
        ("borsh(()) of an index entry is also empty", encode(&())),
        (
            "Account { available: 10^12, nonce: 0 }",
            account_dev0.clone(),
        ),
        (
            "ChainHead { height: 1, time_ms: genesis + 1 000 }",
            encode(&ChainHead {
                height: 1,
                time_ms: GENESIS_MS + 1_000,
            }),
        ),
    ]
    .into_iter()
    .map(|(name, value)| ValueHashVector {
        name: name.to_string(),
        value: hex::encode(&value),
        value_hash: hex::encode(value_hash(&value)),
    })
    .collect();
    let leaf_inputs: Vec<(&str, Vec<u8>, Hash)> = vec![
        (
            "account(dev 0) = Account { 10^12, 0 }",
            keys::account(&dev_id(REQUESTER)),
            value_hash(&account_dev0),
        ),
        (
            "chain_head with an empty value",
            keys::chain_head(),
            value_hash(&[]),
        ),
        (
            "a deadline-index key (value: borsh(()), empty)",
            keys::deadline(GENESIS_MS + 86_400_000, keys::TAG_ESCROW, &ESCROW_FUNDED),
            value_hash(&encode(&())),
        ),
    ];
    let leaf_hashes = leaf_inputs
        .iter()
        .map(|(name, key, hash)| LeafHashVector {
            name: name.to_string(),
            key: hex::encode(key),
            value_hash: hex::encode(hash),
            preimage: hex::encode(leaf_preimage(key, hash)),
            leaf_hash: hex::encode(leaf_hash(key, hash)),
        })
        .collect();
    let empty = empty_subtree_roots();
    let leaf_a = leaf_hash(&leaf_inputs[0].1, &leaf_inputs[0].2);
    let leaf_b = leaf_hash(&leaf_inputs[1].1, &leaf_inputs[1].2);
    let node_hashes = [
        ("E1 = node(E0, E0)", EMPTY_ROOT, EMPTY_ROOT),
        ("E2 = node(E1, E1)", empty[1], empty[1]),
        ("node(leaf 0, leaf 1)", leaf_a, leaf_b),
        ("node(leaf 1, leaf 0): order matters", leaf_b, leaf_a),
    ]
    .into_iter()
    .map(|(name, left, right)| NodeHashVector {
        name: name.to_string(),
        left: hex::encode(left),
        right: hex::encode(right),
        preimage: hex::encode(node_preimage(&left, &right)),
        node_hash: hex::encode(node_hash(&left, &right)),
    })
    .collect();
    let bucket_keys: Vec<(&str, Vec<u8>)> = vec![
        ("chain_config", keys::chain_config()),
        ("supply", keys::supply()),
        ("chain_head", keys::chain_head()),
        ("account(dev 0)", keys::account(&dev_id(REQUESTER))),
        ("escrow(funded)", keys::escrow(&ESCROW_FUNDED)),
        ("empty key", Vec::new()),
    ];
    let buckets_of = bucket_keys
        .into_iter()
        .map(|(name, key)| BucketOfVector {
            name: name.to_string(),
            key_sha256: hex::encode(sha256(&[&key])),
            bucket: bucket_of(&key),
            key: hex::encode(&key),
        })
        .collect();
    let tx_hashes = |n: u8| -> Vec<Vec<u8>> { (1..=n).map(|i| vec![i * 0x11; 32]).collect() };
    let list_roots = vec![
        list_root_vector("no items", &[]),
        list_root_vector("one tx hash", &tx_hashes(1)),
        list_root_vector("two tx hashes", &tx_hashes(2)),
        list_root_vector("three tx hashes (one carried up)", &tx_hashes(3)),
        list_root_vector("five tx hashes (carried up twice)", &tx_hashes(5)),
        list_root_vector(
            "items of different lengths",
            &[b"a".to_vec(), Vec::new(), b"receipt".to_vec()],
        ),
    ];
    CommitmentFile {
        about: "Agora golden state-commitment vectors (SPEC §7, docs/wire.md). Generated by \
                contract/tests/golden_commitment.rs; see fixtures/golden/README.md. All byte \
                strings are lowercase hex."
            .to_string(),
        constants: Constants {
            buckets: BUCKETS,
            bucket_bits: BUCKET_BITS,
            leaf_tag: hex::encode([LEAF_TAG]),
            node_tag: hex::encode([NODE_TAG]),
            list_leaf_tag: hex::encode([LIST_LEAF_TAG]),
            empty_root: hex::encode(EMPTY_ROOT),
            empty_subtree_roots: hexes(&empty),
        },
        value_hashes,
        leaf_hashes,
        node_hashes,
        buckets_of,
        list_roots,
        states: states()
            .iter()
            .map(|(name, entries)| state_vector(name, entries))
            .collect(),
    }
}

/// The shape a proof shows for `key`, from its leaves.
fn shape_of(proof: &StateProof, key: &[u8]) -> &'static str {
    match proof.leaves.as_slice() {
        [] => "absent_empty_bucket",
        [only] if only.key == key => "membership",
        [only] if key < only.key.as_slice() => "absent_before_first",
        [_] => "absent_after_last",
        _ => "absent_between",
    }
}

/// The keys proven: (name, key), each present or absent in the proof state.
fn proof_targets() -> Vec<(&'static str, Vec<u8>)> {
    let (_, crowded) = crowded_bucket();
    let (_, tree) = proof_state();
    let dev0 = keys::account(&dev_id(REQUESTER));
    // An absent account in the one-leaf bucket of account(dev 0).
    let lonely = lonely_neighbour();
    assert_eq!(tree.bucket_leaves(bucket_of(&dev0)).count(), 1);
    let nobody = keys::account(&dev_id(9));
    assert_eq!(tree.bucket_leaves(bucket_of(&nobody)).count(), 0);
    vec![
        ("member_account_dev0_alone_in_bucket", dev0),
        ("member_escrow_disputed", keys::escrow(&ESCROW_DISPUTED)),
        (
            "member_index_entry_empty_value",
            keys::deadline(
                GENESIS_MS + 1_802_000,
                keys::TAG_ASSIGNMENT,
                &assignment_id(&REQUEST, &dev_id(PROVIDER)),
            ),
        ),
        ("member_first_of_five", synthetic_key(crowded[1])),
        ("member_middle_of_five", synthetic_key(crowded[4])),
        ("member_last_of_five_carried_up", synthetic_key(crowded[6])),
        ("absent_account_dev9_empty_bucket", nobody),
        ("absent_in_one_leaf_bucket", synthetic_key(lonely)),
        ("absent_before_first_of_five", synthetic_key(crowded[0])),
        ("absent_between_second_and_third", synthetic_key(crowded[3])),
        ("absent_after_last_of_five", synthetic_key(crowded[7])),
    ]
}

fn proofs_file() -> ProofsFile {
    let (entries, tree) = proof_state();
    let root = tree.root();
    let values: BTreeMap<&[u8], &[u8]> = entries
        .iter()
        .map(|e| (e.key.as_slice(), e.value.as_slice()))
        .collect();
    let vectors = proof_targets()
        .into_iter()
        .map(|(name, key)| {
            let proof = tree.prove(&key);
            let bytes = proof.to_bytes();
            let verified = proof.verify(&root, &key).unwrap();
            let leaf_hashes: Vec<Hash> = proof
                .leaves
                .iter()
                .map(|leaf| leaf_hash(&leaf.key, &leaf.value_hash))
                .collect();
            let bucket_root = tree.node(BUCKETS as usize + usize::from(bucket_of(&key)));
            ProofVector {
                name: name.to_string(),
                shape: shape_of(&proof, &key).to_string(),
                value: values.get(key.as_slice()).map(hex::encode),
                bucket: bucket_of(&key),
                size_bytes: bytes.len(),
                proof: hex::encode(&bytes),
                decoded: DecodedProof {
                    version: proof.version,
                    bucket_leaf_count: proof.bucket_leaf_count,
                    leaves: proof
                        .leaves
                        .iter()
                        .map(|leaf| DecodedLeaf {
                            index: leaf.index,
                            key: hex::encode(&leaf.key),
                            value_hash: hex::encode(leaf.value_hash),
                        })
                        .collect(),
                    bucket_proof: hexes(&proof.bucket_proof),
                    top_proof: hexes(&proof.top_proof),
                },
                leaf_hashes: hexes(&leaf_hashes),
                bucket_root: hex::encode(bucket_root),
                verified_value_hash: verified.map(hex::encode),
                key: hex::encode(&key),
            }
        })
        .collect();
    ProofsFile {
        about: "Agora golden state proofs (SPEC §7, docs/wire.md): one per proof shape, all \
                from the `proof_state` of commitment.json and verified against the `block_1` \
                header of headers.json. Generated by contract/tests/golden_commitment.rs; see \
                fixtures/golden/README.md. All byte strings are lowercase hex."
            .to_string(),
        state: "proof_state".to_string(),
        state_root: hex::encode(root),
        header: "block_1".to_string(),
        vectors,
    }
}

/// A golden header with the items its roots commit to.
struct GoldenHeader {
    name: &'static str,
    header: Header,
    tx_hashes: Vec<Hash>,
    receipts: Vec<Receipt>,
    hook_events: Vec<Event>,
}

/// The two golden headers: genesis (height 0) over the genesis state, and block 1 over the
/// proof state, chained by `prev_hash`.
fn golden_headers() -> Vec<GoldenHeader> {
    let key = sequencer_key();
    let proposer = account_of(&key);
    let genesis_root = tree_of(&genesis_entries()).root();
    let genesis = Header {
        version: HEADER_VERSION,
        chain_id: chain_id(),
        height: 0,
        prev_hash: [0; 32],
        time_ms: GENESIS_MS,
        tx_count: 0,
        tx_root: list_root::<Hash>(&[]),
        receipts_root: list_root::<Vec<u8>>(&[]),
        hook_events_hash: hook_events_hash(&[]),
        state_root: genesis_root,
        proposer,
    };
    let tx_hashes = vec![[0x11; 32], [0x22; 32]];
    let receipts = vec![
        Receipt {
            tx_hash: tx_hashes[0],
            status: TxStatus::Success,
            nonce_consumed: true,
            events: vec![Event::Transferred {
                from: dev_id(REQUESTER),
                to: dev_id(PROVIDER),
                amount: Amount(250_000),
            }],
        },
        Receipt {
            tx_hash: tx_hashes[1],
            status: TxStatus::Success,
            nonce_consumed: true,
            events: vec![Event::Escrow {
                id: ESCROW_FUNDED,
                event: EscrowEvent::Funded {
                    amount: Amount(10_000),
                },
            }],
        },
    ];
    let hook_events = vec![Event::Escrow {
        id: Uuid::from_u128(0x0190_f5a3_7c4e_7d2a_9b61_3e8f_2c4d_9e03),
        event: EscrowEvent::Expired,
    }];
    let encoded_receipts: Vec<Vec<u8>> = receipts.iter().map(encode).collect();
    let block_1 = Header {
        version: HEADER_VERSION,
        chain_id: chain_id(),
        height: 1,
        prev_hash: genesis.hash(),
        time_ms: GENESIS_MS + 1_000,
        tx_count: 2,
        tx_root: list_root(&tx_hashes),
        receipts_root: list_root(&encoded_receipts),
        hook_events_hash: hook_events_hash(&hook_events),
        state_root: proof_state().1.root(),
        proposer,
    };
    vec![
        GoldenHeader {
            name: "genesis",
            header: genesis,
            tx_hashes: Vec::new(),
            receipts: Vec::new(),
            hook_events: Vec::new(),
        },
        GoldenHeader {
            name: "block_1",
            header: block_1,
            tx_hashes,
            receipts,
            hook_events,
        },
    ]
}

fn headers_file() -> HeadersFile {
    let key = sequencer_key();
    let headers = golden_headers()
        .into_iter()
        .map(|golden| {
            let GoldenHeader {
                name,
                header,
                tx_hashes,
                receipts,
                hook_events,
            } = golden;
            let signed = header.clone().sign(&key);
            HeaderVector {
                name: name.to_string(),
                fields: HeaderFields {
                    version: header.version,
                    chain_id: header.chain_id.as_str().to_string(),
                    height: header.height,
                    prev_hash: hex::encode(header.prev_hash),
                    time_ms: header.time_ms,
                    tx_count: header.tx_count,
                    tx_root: hex::encode(header.tx_root),
                    receipts_root: hex::encode(header.receipts_root),
                    hook_events_hash: hex::encode(header.hook_events_hash),
                    state_root: hex::encode(header.state_root),
                    proposer: hex::encode(header.proposer.0),
                },
                tx_hashes: hexes(&tx_hashes),
                receipts: receipts.iter().map(|r| hex::encode(encode(r))).collect(),
                hook_events: hex::encode(encode(&hook_events)),
                header_borsh: hex::encode(encode(&header)),
                signing_message: hex::encode(header.signing_message()),
                hash: hex::encode(header.hash()),
                signature: hex::encode(signed.signature),
                signed_header_borsh: hex::encode(encode(&signed)),
            }
        })
        .collect();
    HeadersFile {
        about: "Agora golden signed headers (SPEC §7, docs/wire.md), signed with the devnet \
                sequencer key. Generated by contract/tests/golden_commitment.rs; see \
                fixtures/golden/README.md. All byte strings are lowercase hex."
            .to_string(),
        chain_id: GOLDEN_CHAIN_ID.to_string(),
        signing_domain: hex::encode(HEADER_SIGNING_DOMAIN),
        sequencer_seed: hex::encode(sequencer_seed()),
        sequencer: hex::encode(account_of(&key).0),
        headers,
        events: event_specs()
            .iter()
            .map(|(name, event)| EventVector {
                name: name.clone(),
                event: hex::encode(encode(event)),
            })
            .collect(),
    }
}

/// One `Event` of every kind, named after its variant. New variants go at the end.
fn event_specs() -> Vec<(String, Event)> {
    let assignment = assignment_id(&REQUEST, &dev_id(PROVIDER));
    let escrow_events = vec![
        EscrowEvent::Created {
            requester: dev_id(REQUESTER),
            provider: dev_id(PROVIDER),
            amount: Amount(10_000),
            kind: EscrowKind::TimeLocked {
                release_after_ms: GENESIS_MS + 43_200_000,
            },
            deadline_ms: GENESIS_MS + 86_400_000,
        },
        EscrowEvent::Funded {
            amount: Amount(10_000),
        },
        EscrowEvent::Completed {
            result_hash: [0xe5; 32],
        },
        EscrowEvent::Approved {
            by: dev_id(PROVIDER),
            decision: Decision::Refund,
        },
        EscrowEvent::DisputeRaised {
            by: dev_id(REQUESTER),
            reason_hash: [0xf6; 32],
            evidence: vec![Cid::new("bafy-reason").unwrap(), Cid::new("x").unwrap()],
            deadline_ms: GENESIS_MS + 90_000_000,
        },
        EscrowEvent::EvidenceAdded {
            by: dev_id(PROVIDER),
            cid: Cid::new("ipfs://bafy-counter").unwrap(),
        },
        EscrowEvent::Voted {
            by: dev_id(ARB2),
            outcome: Outcome::Split {
                provider_bps: 3_333,
            },
        },
        EscrowEvent::Released {
            to_provider: Amount(10_000),
            cause: SettleCause::TimeLock,
        },
        EscrowEvent::Refunded {
            to_requester: Amount(10_000),
            cause: SettleCause::DisputeDeadline,
        },
        EscrowEvent::Resolved {
            to_provider: Amount(3_333),
            to_requester: Amount(6_667),
        },
        EscrowEvent::Expired,
    ];
    let market_events = vec![
        MarketEvent::ProviderRegistered {
            provider: dev_id(PROVIDER),
        },
        MarketEvent::OfferPosted {
            id: OFFER,
            provider: dev_id(PROVIDER),
            ask_per_unit: Amount(120),
            capacity_units: 500,
        },
        MarketEvent::OfferClosed {
            id: OFFER,
            status: OfferStatus::Exhausted,
        },
        MarketEvent::RequestPosted {
            id: REQUEST,
            requester: dev_id(REQUESTER),
            reserved: Amount(37_500),
        },
        MarketEvent::Assigned {
            assignment_id: assignment,
            request_id: REQUEST,
            provider: dev_id(PROVIDER),
            units: 250,
            price_per_unit: Amount(72),
            returned: Amount(19_500),
        },
        MarketEvent::TaskStarted {
            assignment_id: assignment,
        },
        MarketEvent::ResultSubmitted {
            assignment_id: assignment,
            result_hash: [0x5a; 32],
        },
        MarketEvent::ResultRated {
            assignment_id: assignment,
        },
        MarketEvent::AssignmentSettled {
            assignment_id: assignment,
            status: AssignmentStatus::SlaViolated,
            violations: 2,
            penalty_charged: Amount(1_000),
        },
        MarketEvent::ReputationChanged {
            provider: dev_id(PROVIDER),
            from: 60,
            to: 40,
        },
        MarketEvent::PayloadDelivered {
            assignment_id: assignment,
            provider: dev_id(PROVIDER),
            commitment: sha256(&[b"golden confidential payload"]),
        },
        MarketEvent::RequestClosed {
            id: REQUEST,
            status: RequestStatus::Expired,
            returned: Amount(150),
        },
    ];
    let mut events = vec![
        (
            "Minted".to_string(),
            Event::Minted {
                to: dev_id(REQUESTER),
                amount: Amount(1_000_000),
            },
        ),
        (
            "Transferred".to_string(),
            Event::Transferred {
                from: dev_id(REQUESTER),
                to: dev_id(PROVIDER),
                amount: Amount(250_000),
            },
        ),
    ];
    events.extend(escrow_events.into_iter().map(|event| {
        (
            format!("Escrow/{}", escrow_event_name(&event)),
            Event::Escrow {
                id: ESCROW_DISPUTED,
                event,
            },
        )
    }));
    events.extend(market_events.into_iter().map(|event| {
        (
            format!("Market/{}", market_event_name(&event)),
            Event::Market(event),
        )
    }));
    events
}

/// Variant names, exhaustive on purpose: a new variant fails to compile here until it is
/// named and given a vector in `event_specs`.
fn escrow_event_name(event: &EscrowEvent) -> &'static str {
    match event {
        EscrowEvent::Created { .. } => "Created",
        EscrowEvent::Funded { .. } => "Funded",
        EscrowEvent::Completed { .. } => "Completed",
        EscrowEvent::Approved { .. } => "Approved",
        EscrowEvent::DisputeRaised { .. } => "DisputeRaised",
        EscrowEvent::EvidenceAdded { .. } => "EvidenceAdded",
        EscrowEvent::Voted { .. } => "Voted",
        EscrowEvent::Released { .. } => "Released",
        EscrowEvent::Refunded { .. } => "Refunded",
        EscrowEvent::Resolved { .. } => "Resolved",
        EscrowEvent::Expired => "Expired",
    }
}

fn market_event_name(event: &MarketEvent) -> &'static str {
    match event {
        MarketEvent::ProviderRegistered { .. } => "ProviderRegistered",
        MarketEvent::OfferPosted { .. } => "OfferPosted",
        MarketEvent::OfferClosed { .. } => "OfferClosed",
        MarketEvent::RequestPosted { .. } => "RequestPosted",
        MarketEvent::Assigned { .. } => "Assigned",
        MarketEvent::TaskStarted { .. } => "TaskStarted",
        MarketEvent::ResultSubmitted { .. } => "ResultSubmitted",
        MarketEvent::ResultRated { .. } => "ResultRated",
        MarketEvent::AssignmentSettled { .. } => "AssignmentSettled",
        MarketEvent::ReputationChanged { .. } => "ReputationChanged",
        MarketEvent::PayloadDelivered { .. } => "PayloadDelivered",
        MarketEvent::RequestClosed { .. } => "RequestClosed",
    }
}

/// The number of variants of each event enum (the exhaustive matches above keep these
/// honest only together with this count).
const ESCROW_EVENT_VARIANTS: usize = 11;
const MARKET_EVENT_VARIANTS: usize = 12;

// ---------------------------------------------------------------------------------------
// Comparison with the committed files
// ---------------------------------------------------------------------------------------

fn update_requested() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1")
}

/// The first JSON path at which `fixture` and `generated` differ, with both values.
fn first_difference(path: &str, fixture: &Value, generated: &Value) -> Option<String> {
    match (fixture, generated) {
        (Value::Object(want), Value::Object(got)) => {
            for (name, want_value) in want {
                let here = format!("{path}.{name}");
                match got.get(name) {
                    Some(got_value) => {
                        if let Some(found) = first_difference(&here, want_value, got_value) {
                            return Some(found);
                        }
                    }
                    None => return Some(format!("{here}: in the fixture, not generated")),
                }
            }
            got.keys()
                .find(|name| !want.contains_key(*name))
                .map(|name| format!("{path}.{name}: generated, not in the fixture"))
        }
        (Value::Array(want), Value::Array(got)) => {
            for (i, (want_item, got_item)) in want.iter().zip(got).enumerate() {
                let label = match want_item.get("name").and_then(Value::as_str) {
                    Some(name) => format!("{path}[{i}] `{name}`"),
                    None => format!("{path}[{i}]"),
                };
                if let Some(found) = first_difference(&label, want_item, got_item) {
                    return Some(found);
                }
            }
            (want.len() != got.len()).then(|| {
                format!(
                    "{path}: {} items in the fixture, {} generated",
                    want.len(),
                    got.len()
                )
            })
        }
        _ if fixture == generated => None,
        _ => {
            let (want, got) = (fixture.to_string(), generated.to_string());
            let at = want
                .bytes()
                .zip(got.bytes())
                .position(|(a, b)| a != b)
                .map(|at| format!(" (first at character {at})"))
                .unwrap_or_default();
            Some(format!(
                "{path} differs{at}\n  fixture:   {want}\n  generated: {got}"
            ))
        }
    }
}

/// Compares `generated` with the fixture at `path`, or rewrites the fixture when
/// `UPDATE_GOLDEN=1`.
fn check_or_update<T: Serialize>(path: &str, generated: &T) {
    let generated = serde_json::to_value(generated).unwrap();
    if update_requested() {
        let mut text = serde_json::to_string_pretty(&generated).unwrap();
        text.push('\n');
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        return;
    }
    let regenerate = "If this change to the commitment, proof or header format is intended, \
                      regenerate with `UPDATE_GOLDEN=1 cargo test -p agora-contract --test \
                      golden_commitment` and have the diff reviewed (see \
                      fixtures/golden/README.md).";
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading golden fixture {path}: {e}\n{regenerate}"));
    let fixture: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("golden fixture {path} does not parse: {e}\n{regenerate}"));
    if let Some(difference) = first_difference("", &fixture, &generated) {
        panic!("golden mismatch in {path}\n{difference}\n{regenerate}");
    }
}

/// The committed fixture at `path`; while `UPDATE_GOLDEN=1` rewrites the files (in
/// parallel tests), the freshly generated content instead, so no test reads a half-written
/// file.
fn read_fixture<T: Serialize + for<'de> Deserialize<'de>>(path: &str, generate: fn() -> T) -> T {
    if update_requested() {
        return generate();
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

fn committed_proofs() -> ProofsFile {
    read_fixture(PROOFS_PATH, proofs_file)
}

fn committed_headers() -> HeadersFile {
    read_fixture(HEADERS_PATH, headers_file)
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
}

fn unhex32(text: &str) -> Hash {
    unhex(text).try_into().unwrap()
}

/// The golden `block_1` header as committed, decoded from its borsh bytes.
fn committed_header(file: &HeadersFile, name: &str) -> (SignedHeader, Vec<u8>) {
    let vector = file.headers.iter().find(|h| h.name == name).unwrap();
    let bytes = unhex(&vector.signed_header_borsh);
    (borsh::from_slice(&bytes).unwrap(), bytes)
}

fn trust(file: &HeadersFile) -> (Label, AccountId) {
    (
        Label::new(&file.chain_id).unwrap(),
        AccountId(unhex32(&file.sequencer)),
    )
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// Hash constants, value/leaf/node hashes, buckets, list roots, and for every state its
/// entries, each non-empty bucket's tree levels and top-tree path, and its state root,
/// equal the committed `commitment.json`.
#[test]
fn golden_commitment_matches_fixture() {
    check_or_update(COMMITMENT_PATH, &commitment_file());
}

/// Every golden proof (its bytes, decoded fields, derived hashes and result) equals the
/// committed `proofs.json`.
#[test]
fn golden_proofs_match_fixture() {
    check_or_update(PROOFS_PATH, &proofs_file());
}

/// Both golden headers (fields, borsh bytes, signing message, hash, signature) equal the
/// committed `headers.json`.
#[test]
fn golden_headers_match_fixture() {
    check_or_update(HEADERS_PATH, &headers_file());
}

/// The vectors cover what a second implementation must get right: the empty state, one
/// key, two keys in one bucket, a bucket of five leaves (odd levels carried up), every
/// proof shape, and proofs against the signed header of the same root. The golden
/// sequencer is the devnet sequencer of `docs/genesis.md`.
#[test]
fn golden_vectors_cover_every_shape() {
    let commitment = commitment_file();
    let roots: Vec<&str> = commitment
        .states
        .iter()
        .map(|s| s.state_root.as_str())
        .collect();
    let distinct: std::collections::BTreeSet<&&str> = roots.iter().collect();
    assert_eq!(distinct.len(), roots.len(), "every state has its own root");
    let empty = &commitment.states[0];
    assert!(empty.entries.is_empty() && empty.buckets.is_empty());
    assert_eq!(
        empty.state_root,
        hex::encode(empty_subtree_roots()[16]),
        "the empty state's root is E16"
    );
    assert_eq!(commitment.states[1].entries.len(), 1);
    let pair = &commitment.states[2];
    assert_eq!(pair.entries.len(), 2);
    assert_eq!(pair.buckets.len(), 1, "both keys share one bucket");
    let proof_state = commitment.states.last().unwrap();
    assert!(proof_state
        .buckets
        .iter()
        .any(|b| b.keys.len() == 5 && b.levels.iter().map(Vec::len).eq([5, 3, 2, 1])));

    let proofs = proofs_file();
    let shapes: std::collections::BTreeSet<&str> =
        proofs.vectors.iter().map(|v| v.shape.as_str()).collect();
    assert_eq!(
        shapes,
        [
            "absent_after_last",
            "absent_before_first",
            "absent_between",
            "absent_empty_bucket",
            "membership"
        ]
        .into_iter()
        .collect()
    );
    assert!(proofs
        .vectors
        .iter()
        .any(|v| v.shape.starts_with("absent") && v.decoded.bucket_leaf_count == 1));
    assert_eq!(proofs.state_root, proof_state.state_root);
    let headers = headers_file();
    let block_1 = headers
        .headers
        .iter()
        .find(|h| h.name == proofs.header)
        .unwrap();
    assert_eq!(block_1.fields.state_root, proofs.state_root);
    assert_eq!(
        headers.headers[0].fields.state_root,
        commitment.states[3].state_root
    );
    assert_eq!(block_1.fields.prev_hash, headers.headers[0].hash);
    assert_eq!(headers.sequencer, DEVNET_SEQUENCER);

    // One event of every kind, each decoding back to itself.
    let names: std::collections::BTreeSet<String> =
        event_specs().into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        names.len(),
        2 + ESCROW_EVENT_VARIANTS + MARKET_EVENT_VARIANTS
    );
    for (name, event) in event_specs() {
        let bytes = encode(&event);
        assert_eq!(borsh::from_slice::<Event>(&bytes).unwrap(), event, "{name}");
    }
}

/// Each committed proof decodes, re-encodes to the same bytes, and — with the committed
/// `block_1` header, whose signature checks out against the golden sequencer — verifies
/// for its key: the stored value for a member, absence otherwise. The size is as
/// recorded and within `MAX_PROOF_BYTES`.
#[test]
fn golden_proofs_decode_and_verify_against_the_golden_header() {
    let proofs = committed_proofs();
    let headers = committed_headers();
    let (chain, sequencer) = trust(&headers);
    let (header, _) = committed_header(&headers, &proofs.header);
    assert_eq!(header.verify(&chain, &sequencer), Ok(()));
    assert_eq!(hex::encode(header.header.state_root), proofs.state_root);
    for vector in &proofs.vectors {
        let name = &vector.name;
        let bytes = unhex(&vector.proof);
        assert_eq!(bytes.len(), vector.size_bytes, "{name}");
        assert!(bytes.len() <= MAX_PROOF_BYTES, "{name}");
        let proof = StateProof::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(proof.to_bytes(), bytes, "{name}: re-encoding");
        assert_eq!(proof.version, PROOF_VERSION, "{name}");
        let key = unhex(&vector.key);
        let value = vector.value.as_deref().map(unhex);
        assert_eq!(
            header.verify_state(&chain, &sequencer, &key, value.as_deref(), &proof),
            Ok(()),
            "{name}"
        );
        let proven = proof.verify(&header.header.state_root, &key).unwrap();
        assert_eq!(
            proven.map(hex::encode),
            vector.verified_value_hash,
            "{name}"
        );
        assert_eq!(
            proven,
            value.as_deref().map(value_hash),
            "{name}: proven value hash is sha256 of the value"
        );
        assert_eq!(shape_of(&proof, &key), vector.shape, "{name}");
    }
}

/// A proof shows only what it shows: a member's proof fails for another value
/// (`ValueMismatch`) and for absence (`KeyPresent`); an absent key's proof fails for any
/// value (`KeyAbsent`); another golden key's statement verifies only if the proof's
/// leaves show it too (the one leaf shown, or a same-bucket key they bracket); and no
/// proof verifies against the genesis header's state root (`WrongRoot`).
#[test]
fn golden_proofs_prove_nothing_else() {
    let proofs = committed_proofs();
    let headers = committed_headers();
    let (chain, sequencer) = trust(&headers);
    let (header, _) = committed_header(&headers, &proofs.header);
    let (genesis, _) = committed_header(&headers, "genesis");
    let decoded: Vec<(Vec<u8>, Option<Vec<u8>>, StateProof)> = proofs
        .vectors
        .iter()
        .map(|v| {
            let proof = StateProof::decode(&unhex(&v.proof)).unwrap();
            (unhex(&v.key), v.value.as_deref().map(unhex), proof)
        })
        .collect();
    let check = |key: &[u8], value: Option<&[u8]>, proof: &StateProof| {
        header.verify_state(&chain, &sequencer, key, value, proof)
    };
    for (i, (key, value, proof)) in decoded.iter().enumerate() {
        let name = &proofs.vectors[i].name;
        match value {
            Some(value) => {
                let mut other = value.clone();
                other.push(0);
                assert_eq!(
                    check(key, Some(&other), proof),
                    Err(HeaderError::Proof(
                        agora_contract::commit::ProofError::ValueMismatch
                    )),
                    "{name}"
                );
                assert_eq!(
                    check(key, None, proof),
                    Err(HeaderError::Proof(
                        agora_contract::commit::ProofError::KeyPresent
                    )),
                    "{name}"
                );
            }
            None => assert_eq!(
                check(key, Some(b"anything"), proof),
                Err(HeaderError::Proof(
                    agora_contract::commit::ProofError::KeyAbsent
                )),
                "{name}"
            ),
        }
        // Another golden key's statement verifies only where this proof's leaves prove it
        // too: the one leaf it shows (that key's membership), or the absence of a key in
        // the same bucket that its leaves bracket. Otherwise it is rejected.
        for (j, (other_key, other_value, _)) in decoded.iter().enumerate() {
            if i == j {
                continue;
            }
            let result = check(other_key, other_value.as_deref(), proof);
            let other = &proofs.vectors[j].name;
            let shows_it = matches!(proof.leaves.as_slice(), [only] if only.key == *other_key);
            let same_bucket = bucket_of(other_key) == bucket_of(key);
            if shows_it {
                assert_eq!(result, Ok(()), "{name} shows the leaf of {other}");
            } else if other_value.is_some() || !same_bucket {
                assert!(
                    result.is_err(),
                    "{name} must not verify for the key of {other}"
                );
            }
        }
        assert_eq!(
            proof.verify_value(&genesis.header.state_root, key, value.as_deref()),
            Err(agora_contract::commit::ProofError::WrongRoot),
            "{name} against the genesis root"
        );
    }
}

/// Every one-byte change to every committed proof — each byte XOR 0x01, 0x80 and 0xff — is
/// rejected: the bytes no longer decode, or the proof no longer verifies the claimed
/// statement against the golden header.
#[test]
fn every_one_byte_change_to_a_golden_proof_is_rejected() {
    let proofs = committed_proofs();
    let headers = committed_headers();
    let (chain, sequencer) = trust(&headers);
    let (header, _) = committed_header(&headers, &proofs.header);
    let mut tried = 0usize;
    for vector in &proofs.vectors {
        let bytes = unhex(&vector.proof);
        let key = unhex(&vector.key);
        let value = vector.value.as_deref().map(unhex);
        for at in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut tampered = bytes.clone();
                tampered[at] ^= mask;
                tried += 1;
                if let Ok(proof) = StateProof::decode(&tampered) {
                    assert!(
                        header
                            .verify_state(&chain, &sequencer, &key, value.as_deref(), &proof)
                            .is_err(),
                        "{}: byte {at} ^ {mask:#04x} still verifies",
                        vector.name
                    );
                }
            }
        }
        // Truncated and extended proofs are rejected too.
        assert!(StateProof::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(StateProof::decode(&longer).is_err());
    }
    assert!(tried > 10_000, "{tried} mutations");
}

/// Every one-byte change to a committed signed header — each byte XOR 0x01, 0x80 and 0xff
/// — is rejected: it no longer decodes, or `SignedHeader::verify` fails (another chain id,
/// proposer or version, or a signature that no longer matches the bytes).
#[test]
fn every_one_byte_change_to_a_golden_header_is_rejected() {
    let headers = committed_headers();
    let (chain, sequencer) = trust(&headers);
    for vector in &headers.headers {
        let (header, bytes) = committed_header(&headers, &vector.name);
        assert_eq!(header.verify(&chain, &sequencer), Ok(()), "{}", vector.name);
        for at in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut tampered = bytes.clone();
                tampered[at] ^= mask;
                if let Ok(changed) = borsh::from_slice::<SignedHeader>(&tampered) {
                    assert!(
                        changed.verify(&chain, &sequencer).is_err(),
                        "{}: byte {at} ^ {mask:#04x} still verifies",
                        vector.name
                    );
                }
            }
        }
    }
}

/// The committed header bytes compose as documented: signed header = header ‖ signature,
/// signing message = "agora/header/v1\0" ‖ header, hash = sha256(signing message); the
/// header's roots are the list roots of its committed items and the hash of its hook
/// events; `block_1` links to `genesis` by `prev_hash`.
#[test]
fn golden_headers_compose_as_documented() {
    let headers = committed_headers();
    assert_eq!(unhex(&headers.signing_domain), b"agora/header/v1\0");
    for vector in &headers.headers {
        let name = &vector.name;
        let header = unhex(&vector.header_borsh);
        let mut signed = header.clone();
        signed.extend(unhex(&vector.signature));
        assert_eq!(signed, unhex(&vector.signed_header_borsh), "{name}");
        let mut message = b"agora/header/v1\0".to_vec();
        message.extend(&header);
        assert_eq!(message, unhex(&vector.signing_message), "{name}");
        assert_eq!(hex::encode(sha256(&[&message])), vector.hash, "{name}");
        let tx_hashes: Vec<Vec<u8>> = vector.tx_hashes.iter().map(|h| unhex(h)).collect();
        let receipts: Vec<Vec<u8>> = vector.receipts.iter().map(|r| unhex(r)).collect();
        assert_eq!(vector.fields.tx_count as usize, tx_hashes.len(), "{name}");
        assert_eq!(hex::encode(list_root(&tx_hashes)), vector.fields.tx_root);
        assert_eq!(
            hex::encode(list_root(&receipts)),
            vector.fields.receipts_root
        );
        assert_eq!(
            hex::encode(sha256(&[&unhex(&vector.hook_events)])),
            vector.fields.hook_events_hash,
            "{name}"
        );
        for receipt in &receipts {
            let decoded: Receipt = borsh::from_slice(receipt).unwrap();
            assert_eq!(encode(&decoded), *receipt, "{name}");
        }
    }
    assert_eq!(headers.headers[1].fields.prev_hash, headers.headers[0].hash);
    assert_eq!(headers.headers[0].fields.prev_hash, hex::encode([0u8; 32]));
}
