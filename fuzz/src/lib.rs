//! The bodies of Agora's fuzz targets, one function each, so that the coverage-guided
//! harness (`fuzz_targets/*.rs`, cargo-fuzz / libFuzzer) and the plain test that replays
//! the committed corpus (`runner/tests/fuzz_corpus.rs`, part of `cargo test --workspace`)
//! run exactly the same checks. Every function takes arbitrary bytes and panics only when
//! a property of the contract is broken:
//!
//! * [`tx_decode`]: decoding a submitted transaction never panics; whatever decodes is
//!   canonical (re-encodes to the same bytes, same hash); the stateless checks never
//!   panic; single and batch signature verification agree on every decoded signature.
//! * [`apply_actions`]: a chain of blocks built from the input (escrow and market actions
//!   from a few signers over a few shared ids, time jumps across deadlines, wrong nonces,
//!   raw borsh actions) always applies; the supply is conserved after every block
//!   (Σ available + Σ escrow holdings + Σ request reservations = total minted); terminal
//!   escrows hold nothing; applying a block twice gives the same outcome.
//! * [`proof_verify`]: proofs of a state built from the input verify for the true value
//!   and not for any other; a proof altered by the input, or any bytes decoded as a proof,
//!   never verifies a false statement; decoding never panics. Headers decoded from the
//!   input never verify without the sequencer's signature.
//!
//! This file is also compiled into the runner's test crate through `#[path]`: it uses
//! only `agora_contract`, `borsh`, `sha2` and `ed25519_dalek`.

use std::cell::RefCell;
use std::sync::OnceLock;

use agora_contract::action::{CreateEscrow, PostRequest};
use agora_contract::block::{apply_block_with, init_chain, Genesis, TxStatus};
use agora_contract::bounded::{BoundedVec, Cid, Label};
use agora_contract::codec::decode_canonical;
use agora_contract::commit::{bucket_of, value_hash, StateProof, StateTree};
use agora_contract::context::BlockCtx;
use agora_contract::escrow::{Decision, Escrow, EscrowKind, Outcome};
use agora_contract::header::SignedHeader;
use agora_contract::ids::{sha256, AccountId, Uuid};
use agora_contract::market::privacy::Privacy;
use agora_contract::market::{assignment_id, QualityMin, QualityScore, Request, Sla, TaskSpec};
use agora_contract::state::{keys, load, MemState, StateView};
use agora_contract::tx::{SignedTx, UnsignedTx};
use agora_contract::wallet::{load_supply, Account};
use agora_contract::{sig, Action, Amount, TxError};

/// Reads the fuzz input front to back; an exhausted input reads as zeros.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for byte in &mut bytes {
            *byte = self.byte();
        }
        u64::from_le_bytes(bytes)
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let len = len.min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }
}

// ---------------------------------------------------------------------------------------
// tx_decode

/// Decoding, canonical form, stateless checks and single-vs-batch signature agreement.
pub fn tx_decode(data: &[u8]) {
    let chain = Label::new("agora-devnet").expect("label");
    match SignedTx::decode(data) {
        Ok(tx) => {
            assert_eq!(tx.to_bytes(), data, "decoded bytes are not canonical");
            assert_eq!(tx.hash(), sha256(&[data]));
            let message = tx.tx.signing_message();
            let single = sig::verify(&tx.tx.signer.0, &message, &tx.signature);
            let prepared = sig::prepare(&tx.tx.signer.0, &message, &tx.signature);
            if let Some(prepared) = &prepared {
                assert_eq!(prepared.verify(), single);
                let weight = u128::from_le_bytes(sha256(&[data])[..16].try_into().expect("16"));
                assert_eq!(
                    sig::verify_batch(std::slice::from_ref(prepared), &[weight | 1]),
                    single
                );
            } else {
                assert!(!single, "a signature that does not prepare verified");
            }
            let checked = tx.check_stateless(&chain, 1);
            if single {
                assert_ne!(checked, Err(TxError::BadSignature));
            } else {
                assert_eq!(checked, Err(TxError::BadSignature));
            }
        }
        Err(error) => assert!(
            matches!(
                error,
                TxError::TxTooLarge { .. } | TxError::Malformed | TxError::NonCanonical
            ),
            "decode failed with {error:?}"
        ),
    }
    // The same bytes as other wire types: never a panic, canonical when they decode.
    if let Ok(action) = decode_canonical::<Action>(data) {
        assert_eq!(borsh::to_vec(&action).expect("encode"), data);
    }
    if let Ok(header) = decode_canonical::<SignedHeader>(data) {
        assert_eq!(borsh::to_vec(&header).expect("encode"), data);
    }
}

// ---------------------------------------------------------------------------------------
// apply_actions

const SIGNERS: usize = 5;

fn account(index: usize) -> AccountId {
    if index >= SIGNERS {
        return AccountId([9; 32]);
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&sha256(&[b"fuzz", &[index as u8]]));
    AccountId(key.verifying_key().to_bytes())
}

fn accounts() -> &'static [AccountId; SIGNERS + 1] {
    static ACCOUNTS: OnceLock<[AccountId; SIGNERS + 1]> = OnceLock::new();
    ACCOUNTS.get_or_init(|| core::array::from_fn(account))
}

fn uuid(n: u8) -> Uuid {
    let mut bytes = [n.wrapping_add(1); 16];
    bytes[6] = 0x40 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    Uuid::from_bytes(bytes)
}

fn label(text: &str) -> Label {
    Label::new(text).expect("label")
}

struct Gen<'i, 'a> {
    input: &'i mut Input<'a>,
    now_ms: u64,
}

impl Gen<'_, '_> {
    fn id(&mut self) -> Uuid {
        uuid(self.input.byte() % 4)
    }

    fn who(&mut self) -> AccountId {
        accounts()[usize::from(self.input.byte()) % (SIGNERS + 1)]
    }

    fn amount(&mut self) -> Amount {
        let raw = self.input.u64();
        Amount(
            self.input
                .pick(&[0, 1, 7, 100, 5_000, 999_999, u64::MAX, raw % 1_000_000, raw]),
        )
    }

    fn small(&mut self) -> u64 {
        let raw = self.input.u64();
        self.input
            .pick(&[0, 1, 2, 10, 100, 150, 1_000, u64::MAX, raw % 2_000])
    }

    fn time_ahead(&mut self) -> u64 {
        let delta = self
            .input
            .pick(&[0u64, 1, 1_000, 60_000, 3_600_000, 86_400_000, 90_000_000]);
        match self.input.byte() % 8 {
            0 => self.now_ms.saturating_sub(delta),
            1 => u64::MAX,
            _ => self.now_ms.saturating_add(delta),
        }
    }

    fn group(&mut self) -> BoundedVec<AccountId, { agora_contract::action::MAX_ARBITRATORS }> {
        let mask = self.input.byte();
        let mut chosen: Vec<AccountId> = (0..SIGNERS + 1)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| accounts()[i])
            .collect();
        chosen.sort();
        chosen.dedup();
        if mask & 0x80 != 0 {
            chosen.reverse(); // unsorted: must be refused, never trusted
        }
        BoundedVec::new(chosen).unwrap_or_else(|_| BoundedVec::empty())
    }

    fn labels<const N: u32>(&mut self) -> BoundedVec<Label, N> {
        let options: [&[&str]; 4] = [&[], &["gpu"], &["cpu", "gpu"], &["gpu", "cpu"]];
        let pick = options[usize::from(self.input.byte()) % 4];
        BoundedVec::new(pick.iter().map(|l| label(l)).collect())
            .unwrap_or_else(|_| BoundedVec::empty())
    }

    fn kind(&mut self) -> EscrowKind {
        match self.input.byte() % 4 {
            0 => EscrowKind::Single,
            1 => EscrowKind::BothParties,
            2 => EscrowKind::Arbitrators {
                required: self.input.byte() % 4,
                total: self.input.byte() % 5,
            },
            _ => EscrowKind::TimeLocked {
                release_after_ms: self.time_ahead(),
            },
        }
    }

    fn action(&mut self) -> Action {
        match self.input.byte() % 21 {
            0 => Action::Transfer {
                to: self.who(),
                amount: self.amount(),
            },
            1 => Action::Mint {
                to: self.who(),
                amount: self.amount(),
            },
            2 => Action::CreateEscrow(CreateEscrow {
                id: self.id(),
                provider: self.who(),
                amount: self.amount(),
                kind: self.kind(),
                arbitrators: self.group(),
                deadline_ms: self.time_ahead(),
                dispute_window_ms: self
                    .input
                    .pick(&[None, Some(0), Some(1_000), Some(86_400_000)]),
                job_ref: [self.input.byte(); 32],
                fund: self.input.byte().is_multiple_of(2),
            }),
            3 => Action::FundEscrow { id: self.id() },
            4 => Action::MarkCompleted {
                id: self.id(),
                result_hash: [self.input.byte(); 32],
            },
            5 => Action::Approve {
                id: self.id(),
                decision: self.input.pick(&[Decision::Release, Decision::Refund]),
            },
            6 => {
                let evidence = match self.input.byte() % 3 {
                    0 => Vec::new(),
                    1 => vec![Cid::new("bafy-evidence").expect("cid")],
                    _ => vec![Cid::new("a").expect("cid"); 17],
                };
                Action::RaiseDispute {
                    id: self.id(),
                    reason_hash: [self.input.byte(); 32],
                    evidence: BoundedVec::new(evidence).unwrap_or_else(|_| BoundedVec::empty()),
                }
            }
            7 => Action::AddEvidence {
                id: self.id(),
                cid: Cid::new("bafy-more").expect("cid"),
            },
            8 => {
                let bps = self
                    .input
                    .pick(&[0u16, 1, 5_000, 9_999, 10_000, 10_001, u16::MAX]);
                Action::Resolve {
                    id: self.id(),
                    outcome: self.input.pick(&[
                        Outcome::Release,
                        Outcome::Refund,
                        Outcome::Split { provider_bps: bps },
                    ]),
                }
            }
            9 => Action::RegisterProvider {
                capabilities: self.labels(),
            },
            10 => Action::PostOffer {
                id: self.id(),
                task_types: self.labels(),
                ask_per_unit: self.amount(),
                capacity_units: self.small(),
                expires_at_ms: self.time_ahead(),
            },
            11 => Action::CancelOffer { id: self.id() },
            12 => Action::PostRequest(self.post_request()),
            13 => Action::AcceptRequest {
                request_id: self.id(),
                ask_per_unit: self.amount(),
            },
            14 => Action::CancelRequest { id: self.id() },
            15 => Action::StartTask {
                assignment_id: self.assignment(),
            },
            16 => Action::SubmitResult {
                assignment_id: self.assignment(),
                result_hash: [self.input.byte(); 32],
            },
            17 => {
                let scores = match self.input.byte() % 3 {
                    0 => Vec::new(),
                    1 => vec![QualityScore {
                        metric: label("accuracy"),
                        score_bps: self.input.pick(&[0, 5_000, 9_000, 10_000, 10_001]),
                    }],
                    _ => vec![
                        QualityScore {
                            metric: label("b"),
                            score_bps: 1,
                        },
                        QualityScore {
                            metric: label("a"),
                            score_bps: 1,
                        },
                    ],
                };
                Action::RateResult {
                    assignment_id: self.assignment(),
                    scores: BoundedVec::new(scores).unwrap_or_else(|_| BoundedVec::empty()),
                }
            }
            18 => {
                let len = usize::from(self.input.byte());
                Action::DeliverPayload {
                    assignment_id: self.assignment(),
                    ciphertext: BoundedVec::new(vec![7; len])
                        .unwrap_or_else(|_| BoundedVec::empty()),
                }
            }
            _ => {
                // Raw borsh: whatever the input says, decoded canonically.
                let len = usize::from(self.input.byte());
                let bytes = self.input.take(len);
                decode_canonical::<Action>(bytes).unwrap_or(Action::FundEscrow { id: uuid(0) })
            }
        }
    }

    fn assignment(&mut self) -> Uuid {
        let request = self.id();
        let provider = self.who();
        assignment_id(&request, &provider)
    }

    fn post_request(&mut self) -> PostRequest {
        let quality_min = if self.input.byte().is_multiple_of(2) {
            Vec::new()
        } else {
            vec![QualityMin {
                metric: label("accuracy"),
                min_bps: 8_000,
            }]
        };
        let privacy = match self.input.byte() % 3 {
            0 => Privacy::Public {
                payload: BoundedVec::empty(),
            },
            1 => Privacy::Confidential {
                commitment: [self.input.byte(); 32],
            },
            _ => Privacy::Private {
                recipients: BoundedVec::empty(),
            },
        };
        PostRequest {
            id: self.id(),
            spec: TaskSpec {
                task_type: label("gpu"),
                capabilities: self.labels(),
                min_reputation: self.input.pick(&[
                    None,
                    Some(0),
                    Some(50),
                    Some(1_000),
                    Some(u16::MAX),
                ]),
                max_duration_ms: self.input.pick(&[0, 1_000, 3_600_000, u64::MAX]),
            },
            bid_per_unit: self.amount(),
            units: self.small(),
            window_ms: self
                .input
                .pick(&[None, Some(0), Some(60_000), Some(u64::MAX)]),
            arbitrators: self.group(),
            sla: Sla {
                max_response_ms: self.input.pick(&[0, 60_000, u64::MAX]),
                max_duration_ms: self.input.pick(&[0, 3_600_000, u64::MAX]),
                quality_min: BoundedVec::new(quality_min).unwrap_or_else(|_| BoundedVec::empty()),
                penalty: self.amount(),
                review_window_ms: self.input.pick(&[0, 60_000, 86_400_000]),
            },
            privacy,
        }
    }
}

fn genesis() -> Genesis {
    let mut allocations: Vec<(AccountId, Amount)> = (0..SIGNERS)
        .map(|i| (accounts()[i], Amount(1_000_000)))
        .collect();
    // One account near the top of the range, to reach the overflow checks.
    allocations[SIGNERS - 1].1 = Amount(u64::MAX / 2);
    Genesis {
        chain_id: label("fuzz"),
        genesis_time_ms: 1_700_000_000_000,
        mint_authority: Some(accounts()[0]),
        allocations,
    }
}

/// Σ available + Σ held + Σ reserved = total minted, and terminal escrows hold nothing.
fn check_supply(state: &MemState) {
    let supply = load_supply(state).expect("supply").total_minted.0;
    let mut total: u128 = 0;
    for (key, value) in state.entries() {
        match key.first() {
            Some(&keys::NS_ACCOUNT) => {
                total += u128::from(
                    borsh::from_slice::<Account>(value)
                        .expect("account")
                        .available
                        .0,
                )
            }
            Some(&keys::NS_ESCROW) => {
                let escrow: Escrow = borsh::from_slice(value).expect("escrow");
                if escrow.status.is_terminal() {
                    assert_eq!(escrow.held.0, 0, "terminal escrow holds funds: {escrow:?}");
                }
                assert!(
                    escrow.held.0 <= escrow.amount.0,
                    "escrow holds more than its amount"
                );
                total += u128::from(escrow.held.0);
            }
            Some(&keys::NS_REQUEST) => {
                let request: Request = borsh::from_slice(value).expect("request");
                total += u128::from(request.reserved.0);
            }
            _ => {}
        }
    }
    assert_eq!(total, u128::from(supply), "supply not conserved");
}

/// Blocks of actions from the input applied to a small chain, with the invariants above.
pub fn apply_actions(data: &[u8]) {
    let mut input = Input { data };
    let genesis = genesis();
    let mut state = MemState::new();
    state.apply(&init_chain(&genesis).expect("genesis"));
    let mut nonces = [0u64; SIGNERS];
    let mut time_ms = genesis.genesis_time_ms;
    for height in 1..=24u64 {
        if input.is_empty() {
            break;
        }
        time_ms += input.pick(&[1u64, 1_000, 60_000, 3_600_000, 86_400_001, 100_000_000]);
        let count = usize::from(input.byte() % 8);
        let mut txs = Vec::with_capacity(count);
        for _ in 0..count {
            let signer = usize::from(input.byte()) % SIGNERS;
            let nonce_skew = input.pick(&[0i64, 0, 0, 0, 0, 0, -1, 1]);
            let nonce = nonces[signer].saturating_add_signed(nonce_skew);
            let valid_until_height =
                input.pick(&[None, None, None, Some(height), Some(height - 1)]);
            let action = Gen {
                input: &mut input,
                now_ms: time_ms,
            }
            .action();
            let tx = SignedTx {
                tx: UnsignedTx {
                    chain_id: genesis.chain_id.clone(),
                    signer: accounts()[signer],
                    nonce,
                    valid_until_height,
                    action,
                },
                // The flags below say the driver verified it: the state machine is what
                // this target explores; signatures have their own target.
                signature: [0; 64],
            };
            txs.push(tx.to_bytes());
        }
        let ctx = BlockCtx {
            chain_id: genesis.chain_id.clone(),
            height,
            time_ms,
            proposer: accounts()[0],
        };
        let verified = vec![true; txs.len()];
        let outcome = apply_block_with(&state, &ctx, &txs, &verified).expect("block applies");
        let again = apply_block_with(&state, &ctx, &txs, &verified).expect("block applies");
        assert_eq!(outcome, again, "applying a block is not deterministic");
        assert_eq!(outcome.receipts.len(), txs.len());
        for (receipt, bytes) in outcome.receipts.iter().zip(&txs) {
            assert_eq!(receipt.tx_hash, sha256(&[bytes]));
            if receipt.status == TxStatus::Success {
                assert!(receipt.nonce_consumed);
            }
        }
        state.apply(&outcome.writes);
        check_supply(&state);
        for (index, nonce) in nonces.iter_mut().enumerate() {
            let account: Option<Account> =
                load(&state, &keys::account(&accounts()[index])).expect("account decodes");
            *nonce = account.map(|a| a.nonce).unwrap_or(0);
        }
        let head = state.get(&keys::chain_head()).expect("chain head");
        assert!(!head.is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// proof_verify

/// Keys that all fall in one bucket (found once by search), so proofs show multi-leaf
/// buckets, neighbours and bracketing; and keys spread over other buckets.
type KeyPool = (Vec<Vec<u8>>, Vec<Vec<u8>>);

fn key_pool() -> &'static KeyPool {
    static POOL: OnceLock<KeyPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let target = bucket_of(b"\x02fuzz-0");
        let same: Vec<Vec<u8>> = (0u32..)
            .map(|i| {
                let mut key = b"\x02fuzz-".to_vec();
                key.extend(i.to_be_bytes());
                key
            })
            .filter(|key| bucket_of(key) == target)
            .take(8)
            .collect();
        let spread = (0u8..8).map(|i| vec![0x01, i, i, i]).collect();
        (same, spread)
    })
}

thread_local! {
    static TREE: RefCell<StateTree> = RefCell::new(StateTree::new());
}

/// Proof soundness over a state built from the input, and decoding of arbitrary proofs and
/// headers.
pub fn proof_verify(data: &[u8]) {
    let mut input = Input { data };
    let (same, spread) = key_pool();
    let choose = |input: &mut Input| -> Vec<u8> {
        let n = usize::from(input.byte());
        match n % 3 {
            0 => same[(n / 3) % same.len()].clone(),
            1 => spread[(n / 3) % spread.len()].clone(),
            _ => {
                let len = usize::from(input.byte() % 40);
                input.take(len).to_vec()
            }
        }
    };
    let mut written: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = Default::default();
    for _ in 0..(input.byte() % 12) {
        let key = choose(&mut input);
        let len = usize::from(input.byte() % 16);
        let value = input.take(len).to_vec();
        written.insert(key, value);
    }
    TREE.with(|tree| {
        let mut tree = tree.borrow_mut();
        for (key, value) in &written {
            tree.set(key, Some(value));
        }
        let (root, _) = tree.commit();
        for _ in 0..4 {
            let key = choose(&mut input);
            let truth = written.get(&key).map(|v| value_hash(v));
            let proof = tree.prove(&key);
            // The honest proof shows the truth and nothing else.
            assert_eq!(proof.verify(&root, &key).ok(), Some(truth), "honest proof");
            let other = [input.byte()];
            if truth != Some(value_hash(&other)) {
                assert!(proof.verify_value(&root, &key, Some(&other)).is_err());
            }
            // An altered proof never shows anything but the truth.
            let mut bytes = proof.to_bytes();
            for _ in 0..(input.byte() % 4) {
                if bytes.is_empty() {
                    break;
                }
                let at = usize::from(input.byte()) * 7 % bytes.len();
                match input.byte() % 3 {
                    0 => bytes[at] ^= input.byte() | 1,
                    1 => bytes.truncate(at),
                    _ => bytes.insert(at, input.byte()),
                }
            }
            if let Ok(altered) = StateProof::decode(&bytes) {
                if let Ok(shown) = altered.verify(&root, &key) {
                    assert_eq!(shown, truth, "an altered proof verified a false statement");
                }
            }
        }
        // Any bytes as a proof, for any key: never a false statement.
        let key = choose(&mut input);
        let truth = written.get(&key).map(|v| value_hash(v));
        let rest = input.take(usize::MAX);
        if let Ok(proof) = StateProof::decode(rest) {
            if let Ok(shown) = proof.verify(&root, &key) {
                assert_eq!(shown, truth, "arbitrary bytes verified a false statement");
            }
        }
        if let Ok(header) = borsh::from_slice::<SignedHeader>(rest) {
            let sequencer = accounts()[0];
            if header.verify(&label("fuzz"), &sequencer).is_ok() {
                panic!("a header verified without the sequencer's key");
            }
        }
        for key in written.keys() {
            tree.set(key, None);
        }
        tree.commit();
    });
}
