//! Blockwise Model Update Filtering (K. Chen and Q. Huo, ICASSP 2016), on flat parameter
//! vectors. Every worker holds the same [`BlockFilter`] and applies the same update to the same
//! averaged model, so all replicas agree after each block without further communication.
//!
//! One block, for `N` workers that each ran `tau` local steps from the global model `W_g(t-1)`:
//! - `W_avg(t) = sum_i (n_i / n) W_i(t)` (the caller averages, weighted by lines processed);
//! - `G(t) = W_avg(t) - W_g(t-1)`;
//! - `Delta(t) = eta * Delta(t-1) + zeta * G(t)`;
//! - `W(t) = W(t-1) + Delta(t)`;
//! - `W_g(t) = W(t)` (classical block momentum) or `W(t) + eta * Delta(t)` (Nesterov).
//!
//! Only trainable values are filtered. Values that take no gradient (BatchNorm running
//! statistics, frozen layers) are simply averaged: momentum on running statistics would
//! overshoot them, and frozen layers are identical on every worker anyway.

use serde::{Deserialize, Serialize};

/// BMUF settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BmufConfig {
    /// Local optimizer steps per block (`tau`).
    pub sync_every: usize,
    /// Block momentum `eta`; `None` means the default `1 - 1/N` for `N` workers.
    pub block_momentum: Option<f64>,
    /// Block learning rate `zeta`.
    pub block_lr: f64,
    /// Nesterov-style start of the next block (`W_g = W + eta * Delta`).
    pub nesterov: bool,
}

impl Default for BmufConfig {
    fn default() -> Self {
        Self {
            sync_every: 8,
            block_momentum: None,
            block_lr: 1.0,
            nesterov: false,
        }
    }
}

impl BmufConfig {
    /// The block momentum used with `workers` workers.
    pub fn eta(&self, workers: usize) -> f64 {
        self.block_momentum
            .unwrap_or(1.0 - 1.0 / workers.max(1) as f64)
    }
}

/// The filter's state between blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockFilter {
    /// `eta`.
    pub eta: f32,
    /// `zeta`.
    pub zeta: f32,
    /// Nesterov start.
    pub nesterov: bool,
    /// `W(t-1)`: the filtered model (the one validated and saved).
    pub model: Vec<f32>,
    /// `W_g(t-1)`: where the current block started.
    pub global: Vec<f32>,
    /// `Delta(t-1)` (zero where a value is not trainable).
    pub delta: Vec<f32>,
    /// Which values are filtered (the others are averaged).
    pub trainable: Vec<bool>,
}

impl BlockFilter {
    /// A filter starting from `start` (both `W(0)` and `W_g(0)`), with `Delta(0) = 0`.
    pub fn new(cfg: &BmufConfig, workers: usize, start: Vec<f32>, trainable: Vec<bool>) -> Self {
        let n = start.len();
        Self {
            eta: cfg.eta(workers) as f32,
            zeta: cfg.block_lr as f32,
            nesterov: cfg.nesterov,
            global: start.clone(),
            model: start,
            delta: vec![0.0; n],
            trainable,
        }
    }

    /// The filter of a resumed run: block momentum `delta` from the checkpoint, and the next
    /// block's start moved ahead by it under Nesterov momentum.
    pub fn resumed(mut self, delta: &[f32]) -> Self {
        self.delta.copy_from_slice(delta);
        if self.nesterov {
            for ((g, m), d) in self.global.iter_mut().zip(&self.model).zip(&self.delta) {
                *g = m + self.eta * d;
            }
        }
        self
    }

    /// Applies one block: `averaged` is `W_avg(t)`. Returns `W_g(t)`, the start of the next
    /// block; [`BlockFilter::model`] becomes `W(t)`.
    pub fn update(&mut self, averaged: &[f32]) -> &[f32] {
        debug_assert_eq!(averaged.len(), self.model.len());
        for (i, &avg) in averaged.iter().enumerate() {
            if self.trainable[i] {
                let g = avg - self.global[i];
                let d = self.eta * self.delta[i] + self.zeta * g;
                self.delta[i] = d;
                self.model[i] += d;
                self.global[i] = if self.nesterov {
                    self.model[i] + self.eta * d
                } else {
                    self.model[i]
                };
            } else {
                self.model[i] = avg;
                self.global[i] = avg;
            }
        }
        &self.global
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(eta: Option<f64>, zeta: f64, nesterov: bool) -> BmufConfig {
        BmufConfig {
            sync_every: 1,
            block_momentum: eta,
            block_lr: zeta,
            nesterov,
        }
    }

    #[test]
    fn default_momentum_is_one_minus_one_over_n() {
        assert_eq!(BmufConfig::default().eta(1), 0.0);
        assert_eq!(BmufConfig::default().eta(4), 0.75);
        assert_eq!(cfg(Some(0.3), 1.0, false).eta(4), 0.3);
    }

    #[test]
    fn one_worker_without_momentum_takes_the_local_model() {
        let mut f = BlockFilter::new(&cfg(None, 1.0, false), 1, vec![1.0, 2.0], vec![true; 2]);
        assert_eq!(f.update(&[1.5, 1.0]), &[1.5, 1.0]);
        assert_eq!(f.model, vec![1.5, 1.0]);
        assert_eq!(f.update(&[2.0, 0.0]), &[2.0, 0.0]);
    }

    #[test]
    fn two_blocks_match_a_hand_computation() {
        // eta 0.5, zeta 2; W(0) = W_g(0) = 1.
        let mut f = BlockFilter::new(&cfg(Some(0.5), 2.0, false), 2, vec![1.0], vec![true]);
        // G(1) = 1.2 - 1 = 0.2; Delta(1) = 0.4; W(1) = 1.4.
        f.update(&[1.2]);
        assert!((f.delta[0] - 0.4).abs() < 1e-6 && (f.model[0] - 1.4).abs() < 1e-6);
        // G(2) = 1.3 - 1.4 = -0.1; Delta(2) = 0.2 - 0.2 = 0; W(2) = 1.4.
        f.update(&[1.3]);
        assert!(f.delta[0].abs() < 1e-6 && (f.model[0] - 1.4).abs() < 1e-6);
    }

    #[test]
    fn nesterov_starts_the_next_block_ahead() {
        let mut f = BlockFilter::new(&cfg(Some(0.5), 1.0, true), 2, vec![0.0], vec![true]);
        // Delta(1) = 1, W(1) = 1, W_g(1) = 1 + 0.5 = 1.5.
        assert_eq!(f.update(&[1.0]), &[1.5]);
        assert_eq!(f.model, vec![1.0]);
        // G(2) = 2 - 1.5 = 0.5; Delta(2) = 0.5 + 0.5 = 1; W(2) = 2; W_g(2) = 2.5.
        assert_eq!(f.update(&[2.0]), &[2.5]);
        assert_eq!(f.model, vec![2.0]);
    }

    #[test]
    fn untrainable_values_are_plainly_averaged() {
        let mut f = BlockFilter::new(
            &cfg(Some(0.9), 3.0, true),
            2,
            vec![0.0, 0.0],
            vec![true, false],
        );
        let g = f.update(&[1.0, 1.0]).to_vec();
        assert_eq!(g[1], 1.0);
        assert_eq!(f.delta[1], 0.0);
        assert!(g[0] > 1.0);
    }
}
