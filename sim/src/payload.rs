//! Sealed boxes for private and confidential payloads, made by the SDK
//! (`agora_sdk::payload::seal_with`) with the simulation's seeded generator, so ciphertexts
//! — and so the state root — repeat with the seed. Providers open them with the SDK.

use agora_contract::bounded::BoundedVec;
use agora_contract::ids::AccountId;
use agora_contract::market::privacy::{Privacy, MAX_CIPHERTEXT_BYTES};
use anyhow::Result;

use crate::rng::SimRng;

/// Encrypts `payload` to `recipient`, drawing the ephemeral key from `rng`.
pub fn seal(
    rng: &mut SimRng,
    recipient: &AccountId,
    payload: &[u8],
) -> Result<BoundedVec<u8, MAX_CIPHERTEXT_BYTES>> {
    Ok(agora_sdk::payload::seal_with(rng, recipient, payload)?)
}

/// `Privacy::Private` for `payload` sealed to each provider (sorted and distinct).
pub fn private_for(rng: &mut SimRng, providers: &[AccountId], payload: &[u8]) -> Result<Privacy> {
    Ok(agora_sdk::payload::private_for_with(
        rng, providers, payload,
    )?)
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
