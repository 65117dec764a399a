//! Crafted signature edge cases, shared by `sdk/tests/signatures.rs` (the SDK's checks)
//! and `runner/tests/signatures.rs` (the node's admission, one by one and in batches), so
//! both sides are held to the same list. Each case is the bytes of a signed transaction
//! and the answer the rule of `contract::sig` gives it: accepted, or refused with a typed
//! code (103 `BadSignature`, 104 `WrongChain`).

#![allow(dead_code)]

use agora_contract::bounded::Label;
use agora_contract::ids::AccountId;
use agora_contract::tx::{SignedTx, UnsignedTx};
use agora_contract::{Action, Amount};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha512};

/// What the signature rule says about a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Accepted,
    Rejected(u16),
}

pub struct Case {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

/// ℓ, the order of the prime-order subgroup, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The secret scalar of the account whose signatures are crafted by hand.
pub fn crafted_secret() -> Scalar {
    Scalar::from(0x5eed_cafe_u64) * Scalar::from(0x1234_5678_9abc_u64)
}

/// The account signed for with [`crafted_secret`] (fund it before the accepted cases).
pub fn crafted_account() -> AccountId {
    AccountId(
        (ED25519_BASEPOINT_POINT * crafted_secret())
            .compress()
            .to_bytes(),
    )
}

fn transfer(signer: AccountId, chain: &str, nonce: u64, amount: u64) -> UnsignedTx {
    UnsignedTx {
        chain_id: Label::new(chain).expect("label"),
        signer,
        nonce,
        valid_until_height: None,
        action: Action::Transfer {
            to: AccountId([7; 32]),
            amount: Amount(amount),
        },
    }
}

fn bytes(tx: UnsignedTx, signature: [u8; 64]) -> Vec<u8> {
    SignedTx { tx, signature }.to_bytes()
}

fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(r);
    hash.update(a);
    hash.update(message);
    Scalar::from_bytes_mod_order_wide(&hash.finalize().into())
}

/// A signature by `secret` whose R is `[nonce]B + extra`, with S = nonce + k·secret.
fn sign_raw(secret: Scalar, nonce: Scalar, extra: EdwardsPoint, tx: &UnsignedTx) -> [u8; 64] {
    let r = (ED25519_BASEPOINT_POINT * nonce + extra)
        .compress()
        .to_bytes();
    let a = tx.signer.0;
    let k = challenge(&r, &a, &tx.signing_message());
    let s = nonce + k * secret;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r);
    signature[32..].copy_from_slice(&s.to_bytes());
    signature
}

fn add_ell(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[i]) + u16::from(ELL[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// A 32-byte string that is not the encoding of any curve point.
fn not_a_point() -> [u8; 32] {
    (2u8..)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| CompressedEdwardsY(*bytes).decompress().is_none())
        .expect("some y is off the curve")
}

/// Every case, with `nonce` in each transaction (so a list can be used twice).
/// `honest` signs the control case and the cases derived from a real signature.
pub fn cases(chain: &str, honest: &SigningKey, nonce: u64) -> Vec<Case> {
    let mut out = Vec::new();
    let mut push = |name: String, bytes: Vec<u8>, expect: Expect| {
        out.push(Case {
            name,
            bytes,
            expect,
        })
    };
    let me = AccountId(honest.verifying_key().to_bytes());
    let base = transfer(me, chain, nonce, 5);
    let good = honest.sign(&base.signing_message()).to_bytes();
    push(
        "control: a standard signature".into(),
        bytes(base.clone(), good),
        Expect::Accepted,
    );

    // Malleability: S + ℓ is the same scalar, not the canonical encoding.
    let mut malleated = good;
    malleated[32..].copy_from_slice(&add_ell(&good[32..]));
    push(
        "non-canonical S (S + ℓ)".into(),
        bytes(base.clone(), malleated),
        Expect::Rejected(103),
    );
    let mut high = good;
    high[63] |= 0xe0;
    push(
        "S with its top three bits set".into(),
        bytes(base.clone(), high),
        Expect::Rejected(103),
    );

    // Small-order public keys, with the signature (R = identity, S = 0) that satisfies the
    // cofactored equation for any message: only the small-order check refuses it.
    let mut identity_r = [0u8; 64];
    identity_r[0] = 1;
    for (i, point) in EIGHT_TORSION.iter().enumerate() {
        let key = AccountId(point.compress().to_bytes());
        let tx = transfer(key, chain, nonce, 5);
        push(
            format!("small-order public key (torsion point {i}), R = identity, S = 0"),
            bytes(tx, identity_r),
            Expect::Rejected(103),
        );
    }
    let mut identity_signed = [0u8; 32];
    identity_signed[0] = 1;
    identity_signed[31] = 0x80;
    push(
        "small-order public key, non-canonical encoding (identity with the sign bit)".into(),
        bytes(
            transfer(AccountId(identity_signed), chain, nonce, 5),
            identity_r,
        ),
        Expect::Rejected(103),
    );

    // Small-order R with a real key: S = k·a makes the cofactored equation hold, so only
    // the small-order check on R refuses it.
    let secret = crafted_secret();
    let crafted = crafted_account();
    for (i, point) in EIGHT_TORSION.iter().enumerate() {
        let tx = transfer(crafted, chain, nonce, 5);
        let signature = sign_raw(secret, Scalar::ZERO, *point, &tx);
        push(
            format!("small-order R (torsion point {i}) with a real key"),
            bytes(tx, signature),
            Expect::Rejected(103),
        );
    }
    // R with a torsion component (not small order itself): the cofactored rule accepts,
    // in single and batch verification alike (docs/wire.md, "Signatures").
    let tx = transfer(crafted, chain, nonce, 6);
    let signature = sign_raw(secret, Scalar::from(4242u64), EIGHT_TORSION[3], &tx);
    push(
        "R = [r]B + T (mixed order): accepted by the cofactored rule".into(),
        bytes(tx, signature),
        Expect::Accepted,
    );

    // Another chain, other bytes, another key.
    let other_chain = transfer(me, "agora-othernet", nonce, 5);
    let other_signature = honest.sign(&other_chain.signing_message()).to_bytes();
    push(
        "valid signature, but for another chain id".into(),
        bytes(other_chain, other_signature),
        Expect::Rejected(104),
    );
    push(
        "signature for another chain id, moved onto this chain's transaction".into(),
        bytes(base.clone(), other_signature),
        Expect::Rejected(103),
    );
    let changed = transfer(me, chain, nonce, 6);
    push(
        "signature over different bytes (the amount changed)".into(),
        bytes(changed, good),
        Expect::Rejected(103),
    );
    let mut someone_else = base.clone();
    someone_else.signer = crafted;
    push(
        "signature by another key than the signer".into(),
        bytes(someone_else, good),
        Expect::Rejected(103),
    );
    push(
        "all-zero signature".into(),
        bytes(base.clone(), [0; 64]),
        Expect::Rejected(103),
    );
    let mut off_curve_r = good;
    off_curve_r[..32].copy_from_slice(&not_a_point());
    push(
        "R is not a curve point".into(),
        bytes(base, off_curve_r),
        Expect::Rejected(103),
    );
    let off_curve_key = transfer(AccountId(not_a_point()), chain, nonce, 5);
    push(
        "public key is not a curve point".into(),
        bytes(off_curve_key, good),
        Expect::Rejected(103),
    );
    out
}
