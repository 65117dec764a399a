//! The transaction signature rule: ed25519 with strict encodings and the cofactored
//! verification equation, so that a node may verify many signatures in one batch and accept
//! exactly the signatures that one-by-one verification accepts.
//!
//! A signature `(R, S)` by public key `A` over message `M` is valid iff
//! 1. `S` is canonical: `S < ℓ` (the group order);
//! 2. `A` and `R` are canonical encodings (the y-coordinate is below 2^255 − 19), decode to
//!    curve points, and are not of small order (not in the 8-torsion);
//! 3. `[8]([S]B − R − [k]A)` is the identity, where `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
//!
//! Rules 1 and 2 reject malleable and degenerate signatures as strict verification does.
//! Rule 3 is cofactored: a batch equation (a random linear combination of the signatures'
//! equations) can only be exact for the cofactored form, because a small-order difference
//! the single check would reject can cancel inside a sum. With rule 3 both agree: a batch
//! that verifies implies (except with probability ~2^-128) that every equation in it holds.
//! Signatures made by a standard ed25519 signer satisfy both forms; only crafted signatures
//! with a torsion component in `R` are accepted here and refused by cofactorless
//! verification. See docs/wire.md ("Signatures").

use alloc::vec::Vec;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use sha2::{Digest, Sha512};

/// Whether `signature` by `public_key` over `message` is valid under the rule above.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    prepare(public_key, message, signature).is_some_and(|prepared| prepared.verify())
}

/// A signature whose encodings passed rules 1 and 2, decoded for the equation of rule 3.
#[derive(Clone, Debug)]
pub struct Prepared {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// A public key that passed rule 2, decoded once (a verifier may keep it per account:
/// decoding a point costs about as much as a fifth of a verification).
#[derive(Clone, Copy, Debug)]
pub struct PublicKey {
    bytes: [u8; 32],
    point: EdwardsPoint,
}

impl PublicKey {
    /// `None` if the encoding is not canonical, not a point, or of small order.
    pub fn parse(bytes: &[u8; 32]) -> Option<PublicKey> {
        Some(PublicKey {
            bytes: *bytes,
            point: strict_point(bytes)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.bytes
    }
}

/// Rules 1 and 2; `None` if the signature fails them (it is then invalid).
pub fn prepare(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Option<Prepared> {
    prepare_with_key(&PublicKey::parse(public_key)?, message, signature)
}

/// [`prepare`] with the public key already parsed.
pub fn prepare_with_key(
    public_key: &PublicKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Option<Prepared> {
    let (r_bytes, s_bytes) = split_signature(signature);
    let s = canonical_scalar(&s_bytes)?;
    let r = strict_point(&r_bytes)?;
    let k = challenge(&r_bytes, &public_key.bytes, message);
    Some(Prepared {
        a: public_key.point,
        r,
        s,
        k,
    })
}

impl Prepared {
    /// Rule 3 for this signature alone.
    pub fn verify(&self) -> bool {
        // [k](−A) + [S]B − R: curve arithmetic is modular, it cannot overflow or panic.
        #[allow(clippy::arithmetic_side_effects)]
        let difference =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&self.k, &(-self.a), &self.s)
                - self.r;
        difference.mul_by_cofactor().is_identity()
    }
}

/// Rule 3 for many signatures at once: checks `[8](Σ zᵢ([Sᵢ]B − Rᵢ − [kᵢ]Aᵢ)) = 0`.
///
/// Every signature whose equation holds contributes a small-order point at most, so a batch
/// of valid signatures always passes. If any equation fails, its difference has a component
/// of prime order ℓ and the sum vanishes only if the weights happen to cancel it: with
/// weights drawn uniformly from 128-bit integers by the verifier after the signatures are
/// fixed, the probability is at most 2^-128. Returns false if the lengths differ. A false
/// result says only that some signature in the batch is invalid: check them one by one.
pub fn verify_batch(prepared: &[Prepared], weights: &[u128]) -> bool {
    if prepared.len() != weights.len() {
        return false;
    }
    let mut scalars = Vec::with_capacity(prepared.len().saturating_mul(2).saturating_add(1));
    let mut points = Vec::with_capacity(scalars.capacity());
    let mut basepoint_scalar = Scalar::ZERO;
    // Scalar arithmetic is modulo ℓ: it cannot overflow or panic.
    #[allow(clippy::arithmetic_side_effects)]
    for (signature, weight) in prepared.iter().zip(weights) {
        let z = Scalar::from(*weight);
        basepoint_scalar += z * signature.s;
        scalars.push(-z);
        points.push(signature.r);
        scalars.push(-(z * signature.k));
        points.push(signature.a);
    }
    scalars.push(basepoint_scalar);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

fn split_signature(signature: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut r_bytes = [0u8; 32];
    let mut s_bytes = [0u8; 32];
    let (r, s) = signature.split_at(32);
    r_bytes.copy_from_slice(r);
    s_bytes.copy_from_slice(s);
    (r_bytes, s_bytes)
}

fn canonical_scalar(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_canonical_bytes(*bytes))
}

/// A canonical encoding of a point outside the 8-torsion.
fn strict_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !canonical_y(bytes) {
        return None;
    }
    let point = CompressedEdwardsY(*bytes).decompress()?;
    if point.is_small_order() {
        return None;
    }
    Some(point)
}

/// Whether the encoded y-coordinate (the low 255 bits, little-endian) is below
/// p = 2^255 − 19. The only encodings at or above p are `0x7f` in the top byte (sign bit
/// masked), `0xff` in bytes 1..=30 and at least `0xed` in byte 0.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    let top_is_max = bytes.get(31).is_some_and(|top| top & 0x7f == 0x7f);
    let middle_is_max = bytes
        .get(1..31)
        .is_some_and(|middle| middle.iter().all(|byte| *byte == 0xff));
    let low_at_least = bytes.first().is_some_and(|low| *low >= 0xed);
    !(top_is_max && middle_is_max && low_at_least)
}

/// `SHA-512(R ‖ A ‖ M) mod ℓ`.
fn challenge(r_bytes: &[u8; 32], public_key: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(public_key);
    hash.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&hash.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer, SigningKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn standard_signatures_verify_and_any_change_breaks_them() {
        let key = key(7);
        let public_key = key.verifying_key().to_bytes();
        let signature = key.sign(b"message").to_bytes();
        assert!(verify(&public_key, b"message", &signature));
        assert!(!verify(&public_key, b"messagf", &signature));
        assert!(!verify(
            &self::key(8).verifying_key().to_bytes(),
            b"message",
            &signature
        ));
        for byte in 0..64 {
            let mut tampered = signature;
            if let Some(b) = tampered.get_mut(byte) {
                *b ^= 1;
            }
            assert!(!verify(&public_key, b"message", &tampered), "byte {byte}");
        }
    }

    /// S + ℓ is the same scalar mod ℓ but not canonical.
    #[test]
    fn non_canonical_s_is_rejected() {
        let key = key(1);
        let mut signature = key.sign(b"m").to_bytes();
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, ell_byte) in signature[32..].iter_mut().zip(ell) {
            let sum = u16::from(*byte) + u16::from(ell_byte) + carry;
            *byte = sum.to_le_bytes()[0];
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + ℓ fits in 32 bytes for this signature");
        assert!(!verify(&key.verifying_key().to_bytes(), b"m", &signature));
        assert!(prepare(&key.verifying_key().to_bytes(), b"m", &signature).is_none());
    }

    /// Every small-order point is refused as a public key and as R, whatever the sign bit.
    #[test]
    fn small_order_keys_and_r_are_rejected() {
        let key = key(2);
        let signature = key.sign(b"m").to_bytes();
        for point in EIGHT_TORSION {
            for sign in [0u8, 0x80] {
                let mut encoded = point.compress().to_bytes();
                encoded[31] ^= sign;
                assert!(!verify(&encoded, b"m", &signature));
                let mut with_r = signature;
                with_r[..32].copy_from_slice(&encoded);
                assert!(!verify(&key.verifying_key().to_bytes(), b"m", &with_r));
                assert!(prepare(&key.verifying_key().to_bytes(), b"m", &with_r).is_none());
            }
        }
    }

    /// A y-coordinate of p + y' encodes the same point as y' but is not canonical.
    #[test]
    fn non_canonical_point_encodings_are_rejected() {
        // y = p + 3 (p = 2^255 − 19), i.e. 2^255 − 16: low byte 0xf0.
        let mut encoded = [0xff; 32];
        encoded[0] = 0xf0;
        encoded[31] = 0x7f;
        assert!(!canonical_y(&encoded));
        let mut just_below = encoded;
        just_below[0] = 0xec;
        assert!(canonical_y(&just_below));
        assert!(canonical_y(&ED25519_BASEPOINT_POINT.compress().to_bytes()));
        assert!(!verify(&encoded, b"m", &[0; 64]));
    }

    /// A signature whose R carries a torsion component: the cofactored equation holds
    /// (accepted), the cofactorless one does not. This is the one place the rule differs
    /// from cofactorless strict verification, and it is what makes batching exact.
    #[test]
    fn a_torsion_component_in_r_is_accepted_by_the_cofactored_equation() {
        let secret = Scalar::from(12_345u64);
        let a = ED25519_BASEPOINT_POINT * secret;
        let public_key = a.compress().to_bytes();
        let nonce = Scalar::from(999u64);
        // R = [r]B + T with T of order 8: not small order itself.
        let r = ED25519_BASEPOINT_POINT * nonce + EIGHT_TORSION[1];
        let r_bytes = r.compress().to_bytes();
        let k = challenge(&r_bytes, &public_key, b"m");
        let s = nonce + k * secret;
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&r_bytes);
        signature[32..].copy_from_slice(&s.to_bytes());
        assert!(verify(&public_key, b"m", &signature));
        let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&public_key).unwrap();
        let dalek_signature = ed25519_dalek::Signature::from_bytes(&signature);
        assert!(dalek_key.verify_strict(b"m", &dalek_signature).is_err());
    }

    fn prepared(seed: u8, message: &[u8]) -> Prepared {
        let key = key(seed);
        let signature = key.sign(message).to_bytes();
        prepare(&key.verifying_key().to_bytes(), message, &signature).unwrap()
    }

    #[test]
    fn a_batch_of_valid_signatures_verifies() {
        let batch: Vec<Prepared> = (0..20).map(|i| prepared(i, &[i; 3])).collect();
        let weights: Vec<u128> = (0..20).map(|i| 0x1234_5678_9abc_def0 * (i + 1)).collect();
        assert!(verify_batch(&batch, &weights));
        assert!(verify_batch(&[], &[]));
        assert!(!verify_batch(&batch, &weights[1..]));
    }

    /// One bad signature anywhere fails the batch.
    #[test]
    fn one_invalid_signature_fails_the_batch() {
        for bad in [0usize, 7, 19] {
            let mut batch: Vec<Prepared> = (0..20).map(|i| prepared(i, &[i; 3])).collect();
            // A valid encoding over another message: its equation fails.
            batch[bad] = {
                let key = key(u8::try_from(bad).unwrap());
                let signature = key.sign(b"other").to_bytes();
                prepare(&key.verifying_key().to_bytes(), &[0; 3], &signature).unwrap()
            };
            assert!(!batch[bad].verify());
            let weights: Vec<u128> = (0..20).map(|i| 0xfeed_beef_u128 << i).collect();
            assert!(!verify_batch(&batch, &weights), "bad at {bad}");
        }
    }

    /// Signatures with torsion components in R verify alone (cofactored) and in a batch,
    /// whatever the weights: the batch accepts exactly what single verification accepts.
    #[test]
    fn torsion_components_agree_between_single_and_batch() {
        let mut batch = Vec::new();
        for (i, torsion) in EIGHT_TORSION.iter().enumerate() {
            let secret = Scalar::from(100u64 + i as u64);
            let a = ED25519_BASEPOINT_POINT * secret;
            let public_key = a.compress().to_bytes();
            let nonce = Scalar::from(7u64 + i as u64);
            let r = ED25519_BASEPOINT_POINT * nonce + torsion;
            let r_bytes = r.compress().to_bytes();
            let k = challenge(&r_bytes, &public_key, b"m");
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&r_bytes);
            signature[32..].copy_from_slice(&(nonce + k * secret).to_bytes());
            let prepared = prepare(&public_key, b"m", &signature).unwrap();
            assert!(prepared.verify());
            batch.push(prepared);
        }
        for weights in [[1u128; 8], [2; 8], [8; 8], [3, 5, 7, 9, 11, 13, 15, 17]] {
            assert!(verify_batch(&batch, &weights));
        }
    }
}
