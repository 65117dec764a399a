//! Payload encryption for `Private` and `Confidential` requests: each party's X25519 key
//! is derived from its ed25519 key (the secret from the ed25519 secret scalar, the public
//! key as the Montgomery form of the ed25519 public key), and payloads are libsodium
//! sealed boxes (`crypto_box`: ephemeral X25519 + XSalsa20-Poly1305, 48 bytes overhead).
//! A confidential payload's commitment is sha256(payload).

use agora_contract::bounded::BoundedVec;
use agora_contract::ids::{sha256, AccountId, Hash};
use agora_contract::market::privacy::{Privacy, Sealed, MAX_CIPHERTEXT_BYTES, MAX_PAYLOAD_BYTES};
use crypto_box::{PublicKey, SecretKey};
use ed25519_dalek::VerifyingKey;

use crate::error::{Error, Result};
use crate::keys::Keypair;

/// Bytes a sealed box adds to the payload.
pub const SEAL_OVERHEAD_BYTES: usize = crypto_box::SEALBYTES;

fn x25519_public(account: &AccountId) -> Result<PublicKey> {
    let key = VerifyingKey::from_bytes(&account.0)
        .map_err(|_| Error::Payload(format!("{account} is not an ed25519 public key")))?;
    Ok(PublicKey::from(key.to_montgomery().to_bytes()))
}

fn x25519_secret(key: &Keypair) -> SecretKey {
    SecretKey::from(key.signing_key().to_scalar_bytes())
}

/// Encrypts `payload` so that only `recipient` can read it.
pub fn seal(recipient: &AccountId, payload: &[u8]) -> Result<BoundedVec<u8, MAX_CIPHERTEXT_BYTES>> {
    seal_with(&mut rand_core::OsRng, recipient, payload)
}

/// [`seal`] with the ephemeral key drawn from `rng` (a seeded generator makes ciphertexts
/// reproducible, as the simulation needs; use [`seal`] for real secrets).
pub fn seal_with(
    rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
    recipient: &AccountId,
    payload: &[u8],
) -> Result<BoundedVec<u8, MAX_CIPHERTEXT_BYTES>> {
    if payload.len() > MAX_PAYLOAD_BYTES as usize {
        return Err(Error::Payload(format!(
            "payload is {} bytes, more than {MAX_PAYLOAD_BYTES}",
            payload.len()
        )));
    }
    let sealed = x25519_public(recipient)?
        .seal(rng, payload)
        .map_err(|_| Error::Payload("encryption failed".into()))?;
    BoundedVec::new(sealed).map_err(|_| Error::Payload("ciphertext too large".into()))
}

/// Decrypts a payload sealed to `key`'s account.
pub fn open(key: &Keypair, ciphertext: &[u8]) -> Result<Vec<u8>> {
    x25519_secret(key)
        .unseal(ciphertext)
        .map_err(|_| Error::Payload("ciphertext is not sealed to this key or was altered".into()))
}

/// The commitment a confidential request stores.
pub fn commitment(payload: &[u8]) -> Hash {
    sha256(&[payload])
}

/// `Privacy::Private` for `payload` encrypted to each provider (sorted and distinct as
/// the contract requires).
pub fn private_for(providers: &[AccountId], payload: &[u8]) -> Result<Privacy> {
    private_for_with(&mut rand_core::OsRng, providers, payload)
}

/// [`private_for`] with the ephemeral keys drawn from `rng` (see [`seal_with`]).
pub fn private_for_with(
    rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
    providers: &[AccountId],
    payload: &[u8],
) -> Result<Privacy> {
    let mut sorted = providers.to_vec();
    sorted.sort();
    sorted.dedup();
    let recipients = sorted
        .iter()
        .map(|provider| {
            Ok(Sealed {
                provider: *provider,
                ciphertext: seal_with(rng, provider, payload)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Privacy::Private {
        recipients: BoundedVec::new(recipients)
            .map_err(|_| Error::Payload("too many recipients".into()))?,
    })
}

/// The provider's side of a `Private` request: finds its ciphertext and decrypts it.
pub fn open_private(key: &Keypair, privacy: &Privacy) -> Result<Vec<u8>> {
    let Privacy::Private { recipients } = privacy else {
        return Err(Error::Payload("the request is not private".into()));
    };
    let me = key.account();
    let sealed = recipients
        .as_slice()
        .iter()
        .find(|sealed| sealed.provider == me)
        .ok_or_else(|| Error::Payload("this key is not on the request's allow-list".into()))?;
    open(key, sealed.ciphertext.as_slice())
}

/// The provider's side of a confidential delivery: decrypts and checks the payload against
/// the request's commitment.
pub fn open_confidential(
    key: &Keypair,
    commitment_hash: &Hash,
    ciphertext: &[u8],
) -> Result<Vec<u8>> {
    let payload = open(key, ciphertext)?;
    if &commitment(&payload) != commitment_hash {
        return Err(Error::Payload(
            "delivered payload does not match the commitment".into(),
        ));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_payloads_open_only_for_their_recipient() {
        let provider = Keypair::dev(1);
        let other = Keypair::dev(2);
        let sealed = seal(&provider.account(), b"train the model").unwrap();
        assert_eq!(sealed.as_slice().len(), 15 + SEAL_OVERHEAD_BYTES);
        assert_eq!(
            open(&provider, sealed.as_slice()).unwrap(),
            b"train the model"
        );
        assert!(open(&other, sealed.as_slice()).is_err());
        let mut altered = sealed.as_slice().to_vec();
        altered[40] ^= 1;
        assert!(open(&provider, &altered).is_err());
    }

    #[test]
    fn private_requests_seal_to_each_sorted_provider() {
        let providers = [Keypair::dev(3), Keypair::dev(1)];
        let ids: Vec<AccountId> = providers.iter().map(Keypair::account).collect();
        let privacy = private_for(&ids, b"data").unwrap();
        for provider in &providers {
            assert_eq!(open_private(provider, &privacy).unwrap(), b"data");
        }
        assert!(open_private(&Keypair::dev(4), &privacy).is_err());
    }

    #[test]
    fn confidential_delivery_is_checked_against_the_commitment() {
        let provider = Keypair::dev(5);
        let sealed = seal(&provider.account(), b"secret").unwrap();
        assert!(open_confidential(&provider, &commitment(b"secret"), sealed.as_slice()).is_ok());
        assert!(open_confidential(&provider, &commitment(b"other"), sealed.as_slice()).is_err());
    }
}
