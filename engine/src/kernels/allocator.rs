//! How the process's allocator treats the kernels' large, short-lived buffers.
//!
//! Training and the fast path allocate buffers of 1-150 MB (activations, im2col columns,
//! Winograd tiles, gradients) and free them within each step. glibc serves every block above
//! its mmap threshold (at most 32 MB) with a fresh `mmap` and unmaps it on `free`, so each step
//! pays again for the page faults and for the kernel zeroing those pages: on an AMD EPYC (AVX2),
//! one thread, `engine bench-train --ops ours --batch-size 32`, teacher-cpu went from 33.5 to
//! 41.9 GFLOP/s and student-cpu from 40.8 to 46.2 lines/s with [`keep_freed_memory`], and `perf`
//! put page faults, page clearing and `memset` at about 12% of the v8 teacher's training step.
//!
//! The price: the process keeps its peak heap until it exits instead of returning freed blocks
//! to the system. The `engine` CLI, whose processes are one job each, turns it on at start; the
//! app turns it on when it starts a training run, so that recognition alone keeps the
//! system's defaults. Where `GLIBC_TUNABLES` already sets `glibc.malloc` options, they are
//! left as the user set them. Other C libraries are untouched.

/// Serves large blocks from the heap and keeps freed memory for reuse (glibc's `M_MMAP_MAX = 0`
/// and the largest `M_TRIM_THRESHOLD`); returns whether the settings were applied. A no-op
/// outside glibc.
pub fn keep_freed_memory() -> bool {
    if std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc")) {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes glibc's allocator parameters; it takes the arena lock and
    // may be called from any thread at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_work_after_the_switch() {
        let applied = keep_freed_memory();
        if cfg!(all(target_os = "linux", target_env = "gnu"))
            && std::env::var_os("GLIBC_TUNABLES").is_none()
        {
            assert!(applied, "mallopt refused the settings");
        }
        // Blocks above the old mmap threshold, freed and taken again, come back zeroed where
        // asked for and hold what is written.
        for round in 0..3 {
            let mut big = vec![0.0f32; 40 << 20 >> 2];
            assert!(big.iter().all(|v| *v == 0.0), "round {round}: not zeroed");
            big.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
            assert_eq!(big[12345], 12345.0);
        }
    }
}
