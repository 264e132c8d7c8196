//! Which kernel tier runs: the widest instruction set this CPU has, or a narrower one forced
//! with the environment variable `INKLING_KERNELS` (`avx512`, `avx2` or `portable`) or
//! [`force`], so that one machine can measure and test what a CPU without AVX-512 (or without
//! any x86 extension) would run.
//!
//! - `avx512`: AVX-512F kernels (and VNNI for the int8 recurrence where the CPU has it);
//! - `avx2`: the AVX2 + FMA kernels (and F16C for the half-precision recurrence);
//! - `portable`: plain Rust, no x86 code of ours (what an aarch64 build runs).
//!
//! Every kernel asks [`avx512`] / [`avx2_fma`] (and [`f16c`] / [`avx512_vnni`] for the extras
//! of a tier) instead of detecting features itself: the CPU is detected here once, and a
//! forced tier only ever narrows what detection allows. The `gemm` crate (im2col convolutions
//! with several threads per line, and the training path's dense products) detects on its own
//! and is not forced.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// A kernel tier, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Plain Rust.
    Portable,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512F.
    Avx512,
}

impl Tier {
    /// Every tier, widest first.
    pub const ALL: [Tier; 3] = [Tier::Avx512, Tier::Avx2, Tier::Portable];

    /// The tier's name (as `INKLING_KERNELS` takes it).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Portable => "portable",
            Tier::Avx2 => "avx2",
            Tier::Avx512 => "avx512",
        }
    }

    /// The tiers this CPU can run, widest first.
    pub fn available() -> Vec<Tier> {
        Self::ALL.into_iter().filter(|&t| t <= detected()).collect()
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name() == s.trim())
            .ok_or_else(|| format!("unknown kernel tier {s:?} (avx512, avx2 or portable)"))
    }
}

/// The widest tier this CPU supports.
pub fn detected() -> Tier {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Tier::Avx512;
            }
            return Tier::Avx2;
        }
    }
    Tier::Portable
}

/// The tier `INKLING_KERNELS` asks for: `Ok(None)` when unset, an error naming the problem
/// when it is not a tier or one this CPU lacks.
pub fn from_env() -> Result<Option<Tier>, String> {
    let Some(value) = std::env::var_os("INKLING_KERNELS") else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    let tier: Tier = value.parse().map_err(|e| format!("INKLING_KERNELS: {e}"))?;
    if tier > detected() {
        return Err(format!(
            "INKLING_KERNELS={tier}: this CPU's widest tier is {}",
            detected()
        ));
    }
    Ok(Some(tier))
}

/// 0: not forced; else 1 + the tier's index in [`Tier::ALL`] reversed.
static FORCED: AtomicU8 = AtomicU8::new(0);

fn encode(t: Option<Tier>) -> u8 {
    match t {
        None => 0,
        Some(Tier::Portable) => 1,
        Some(Tier::Avx2) => 2,
        Some(Tier::Avx512) => 3,
    }
}

/// Forces a tier for the whole process (`None`: back to `INKLING_KERNELS` or detection).
/// Refused for a tier this CPU lacks. Kernels already running finish on the tier they began.
pub fn force(tier: Option<Tier>) -> Result<(), String> {
    if let Some(t) = tier
        && t > detected()
    {
        return Err(format!(
            "kernel tier {t} is not available: this CPU's widest is {}",
            detected()
        ));
    }
    FORCED.store(encode(tier), Ordering::Relaxed);
    Ok(())
}

/// The tier kernels run now.
pub fn current() -> Tier {
    static ENV: OnceLock<Option<Tier>> = OnceLock::new();
    static DETECTED: OnceLock<Tier> = OnceLock::new();
    let detected = *DETECTED.get_or_init(detected);
    let forced = match FORCED.load(Ordering::Relaxed) {
        1 => Some(Tier::Portable),
        2 => Some(Tier::Avx2),
        3 => Some(Tier::Avx512),
        // An invalid INKLING_KERNELS is reported by the CLI at start-up (`from_env`); here
        // it is ignored.
        _ => *ENV.get_or_init(|| from_env().ok().flatten()),
    };
    forced.map_or(detected, |f| f.min(detected))
}

/// Whether the AVX-512 kernels may run.
pub fn avx512() -> bool {
    current() >= Tier::Avx512
}

/// Whether the AVX2 + FMA kernels may run.
pub fn avx2_fma() -> bool {
    current() >= Tier::Avx2
}

/// Whether the AVX2 tier's half-precision kernels may run: the AVX2 tier and F16C (detected
/// once).
pub fn f16c() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    avx2_fma() && *HAS.get_or_init(|| feature("f16c"))
}

/// Whether the AVX-512 int8 kernels may use VNNI: the AVX-512 tier and VNNI (detected once).
pub fn avx512_vnni() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    avx512() && *HAS.get_or_init(|| feature("avx512vnni"))
}

/// Whether this CPU has the x86 feature `name` (of the few the kernels ask for).
fn feature(name: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match name {
            "f16c" => std::arch::is_x86_feature_detected!("f16c"),
            "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = name;
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_tiers_are_ordered() {
        for t in Tier::ALL {
            assert_eq!(t.name().parse::<Tier>(), Ok(t));
        }
        assert!(
            "sse"
                .parse::<Tier>()
                .unwrap_err()
                .contains("avx512, avx2 or portable")
        );
        assert!(Tier::Portable < Tier::Avx2 && Tier::Avx2 < Tier::Avx512);
        assert_eq!(Tier::available().last(), Some(&Tier::Portable));
        assert_eq!(Tier::available()[0], detected());
    }
}
