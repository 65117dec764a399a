//! The simulation's only source of randomness: a ChaCha8 stream seeded from `--seed`, with
//! the few draws the agents need. Draws use only integer operations and IEEE-754 basic
//! arithmetic (no `ln`, `exp` or `powf`, whose results may differ between math libraries),
//! so a seed yields the same transactions on every machine.

use agora_contract::ids::sha256;
use rand_chacha::ChaCha8Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

/// A seeded random stream.
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream for `seed` (and `salt`, which keeps a second run against the same node
    /// from reusing the first run's object ids).
    pub fn new(seed: u64, salt: u64) -> SimRng {
        let key = sha256(&[
            b"agora-sim/rng/v1\0",
            &seed.to_be_bytes(),
            &salt.to_be_bytes(),
        ]);
        SimRng {
            inner: ChaCha8Rng::from_seed(key),
        }
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        // The top 53 bits of a u64 are exactly representable in an f64.
        let bits = self.inner.next_u64() >> 11;
        bits as f64 / (1u64 << 53) as f64
    }

    /// A uniform draw in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform integer in `[low, high]` (inclusive); `low` if the range is empty.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        let Some(span) = high.checked_sub(low).and_then(|s| s.checked_add(1)) else {
            return low;
        };
        // Rejection sampling keeps the draw exactly uniform.
        let zone = u64::MAX - (u64::MAX % span);
        loop {
            let draw = self.inner.next_u64();
            if draw < zone {
                return low + draw % span;
            }
        }
    }

    /// An index drawn with the given integer weights; `None` if they sum to zero.
    pub fn weighted(&mut self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut ticket = self.range(0, total - 1);
        for (index, weight) in weights.iter().enumerate() {
            if ticket < *weight {
                return Some(index);
            }
            ticket -= weight;
        }
        None
    }

    /// Fills `bytes` from the stream.
    pub fn fill(&mut self, bytes: &mut [u8]) {
        self.inner.fill_bytes(bytes);
    }

    /// 32 fresh bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.fill(&mut out);
        out
    }
}

// The sealed boxes of private and confidential payloads draw their ephemeral keys here.
impl RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.inner.try_fill_bytes(dest)
    }
}

impl CryptoRng for SimRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream_and_ranges_stay_in_bounds() {
        let mut a = SimRng::new(7, 0);
        let mut b = SimRng::new(7, 0);
        for _ in 0..1000 {
            let (x, y) = (a.range(3, 9), b.range(3, 9));
            assert_eq!(x, y);
            assert!((3..=9).contains(&x));
            let u = a.unit();
            assert_eq!(u, b.unit());
            assert!((0.0..1.0).contains(&u));
        }
        assert_ne!(SimRng::new(8, 0).bytes32(), SimRng::new(7, 0).bytes32());
        assert_ne!(SimRng::new(7, 1).bytes32(), SimRng::new(7, 0).bytes32());
        assert_eq!(a.weighted(&[0, 0]), None);
        assert_eq!(a.weighted(&[0, 5, 0]), Some(1));
    }
}
