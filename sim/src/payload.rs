//! Sealed boxes for private and confidential payloads, made exactly as the SDK's
//! `agora_sdk::payload::seal` makes them (X25519 from the recipient's ed25519 key, libsodium
//! sealed box) but with the simulation's seeded generator, so ciphertexts — and so the
//! state root — repeat with the seed. Providers open them with the SDK's own functions.

use agora_contract::bounded::BoundedVec;
use agora_contract::ids::AccountId;
use agora_contract::market::privacy::{Privacy, Sealed, MAX_CIPHERTEXT_BYTES};
use anyhow::{anyhow, Context, Result};
use crypto_box::PublicKey;
use ed25519_dalek::VerifyingKey;

use crate::rng::SimRng;

/// Encrypts `payload` to `recipient`, drawing the ephemeral key from `rng`.
pub fn seal(
    rng: &mut SimRng,
    recipient: &AccountId,
    payload: &[u8],
) -> Result<BoundedVec<u8, MAX_CIPHERTEXT_BYTES>> {
    let key = VerifyingKey::from_bytes(&recipient.0).context("recipient is not an ed25519 key")?;
    let public = PublicKey::from(key.to_montgomery().to_bytes());
    let sealed = public
        .seal(rng, payload)
        .map_err(|_| anyhow!("sealing failed"))?;
    BoundedVec::new(sealed).map_err(|_| anyhow!("ciphertext too large"))
}

/// `Privacy::Private` for `payload` sealed to each provider (sorted and distinct).
pub fn private_for(rng: &mut SimRng, providers: &[AccountId], payload: &[u8]) -> Result<Privacy> {
    let mut sorted = providers.to_vec();
    sorted.sort();
    sorted.dedup();
    let recipients = sorted
        .iter()
        .map(|provider| {
            Ok(Sealed {
                provider: *provider,
                ciphertext: seal(rng, provider, payload)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Privacy::Private {
        recipients: BoundedVec::new(recipients).map_err(|_| anyhow!("too many recipients"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_sdk::Keypair;

    #[test]
    fn seeded_seals_repeat_and_open_with_the_sdk() {
        let provider = Keypair::dev(4);
        let a = seal(&mut SimRng::new(1, 0), &provider.account(), b"work").unwrap();
        let b = seal(&mut SimRng::new(1, 0), &provider.account(), b"work").unwrap();
        assert_eq!(a, b);
        let opened = agora_sdk::payload::open(&provider, a.as_slice()).unwrap();
        assert_eq!(opened, b"work");
    }
}
