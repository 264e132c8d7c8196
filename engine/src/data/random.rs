//! Random helpers shared by the generators: seed mixing and symmetric draws.

use rand::RngExt;
use rand::rngs::StdRng;

/// Mixes a seed and an index into one well-spread 64-bit seed (SplitMix64 finalizer).
pub fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed
        ^ index
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in `[-m, m]` (0 when `m` is not positive): the size of one random change.
pub fn symmetric(rng: &mut StdRng, m: f32) -> f32 {
    if m > 0.0 {
        rng.random_range(-m..=m)
    } else {
        0.0
    }
}
