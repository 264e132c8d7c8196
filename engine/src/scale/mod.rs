//! Scale-out training: several workers (threads with their own model replica, on one or more
//! machines) train one model together, with Blockwise Model Update Filtering ([`bmuf`]) or
//! plain synchronous gradient averaging (DDP), and the device a run trains on
//! ([`DeviceChoice`]). `engine train`, `engine distill` and `engine finetune` all take these
//! options; [`crate::train::runner`] runs a phase's loop on every worker. This module holds
//! only the collectives, so dependencies run one way: `train -> scale -> models`.
//!
//! Layout: [`flat`] turns a model (or its gradients) into one vector and back; [`group`] is
//! the weighted all-reduce of one machine's workers; [`net`] joins machines over Burn's
//! WebSocket transport.

pub mod bmuf;
pub mod flat;
pub mod group;
pub mod net;

use crate::error::{Error, Result};
pub use bmuf::BmufConfig;
use burn::prelude::Device;
use serde::{Deserialize, Serialize};

/// How workers combine their work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Strategy {
    /// Blockwise model-update filtering: `tau` local steps, then a filtered model average.
    Bmuf(BmufConfig),
    /// Synchronous data parallelism: gradients averaged at every step.
    Ddp,
}

impl Strategy {
    /// Local steps between synchronizations (1 for DDP).
    pub fn sync_every(&self) -> usize {
        match self {
            Strategy::Bmuf(b) => b.sync_every.max(1),
            Strategy::Ddp => 1,
        }
    }
}

/// The device a run trains on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// Burn's Flex CPU backend (always available).
    #[default]
    Cpu,
    /// Burn's wgpu backend (Vulkan, Metal, DX12); needs the `gpu` cargo feature.
    Wgpu,
    /// Burn's CUDA backend; needs the `cuda` cargo feature and an NVIDIA driver.
    Cuda,
}

impl DeviceChoice {
    /// Every device kind.
    pub const ALL: [DeviceChoice; 3] = [DeviceChoice::Cpu, DeviceChoice::Wgpu, DeviceChoice::Cuda];

    /// The name recipes and the command line use (`cpu`, `wgpu`, `cuda`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu => "wgpu",
            DeviceChoice::Cuda => "cuda",
        }
    }

    /// The (non-autodiff) device for worker `index` of this machine: CUDA workers take one GPU
    /// each; wgpu workers share the default adapter.
    pub fn device(self, index: usize) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => {
                let _ = index;
                Ok(Device::flex())
            }
            #[cfg(feature = "gpu")]
            DeviceChoice::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda => Ok(Device::cuda(index)),
            #[allow(unreachable_patterns)]
            other => Err(Error::Invalid(format!(
                "this engine was built without the {} backend: rebuild it with `cargo build --release --features {}`",
                other.name(),
                if other == DeviceChoice::Cuda {
                    "cuda"
                } else {
                    "gpu"
                }
            ))),
        }
    }
}

/// Where and how wide a run trains. The default is one CPU worker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScaleConfig {
    /// Workers on this machine (threads, one model replica each).
    pub workers: usize,
    /// How workers combine; `None` with one worker on one machine is plain training, with
    /// several it is [`ScaleConfig::strategy`]'s default.
    pub strategy: Option<Strategy>,
    /// Machines in the run (1: this one only).
    pub nodes: usize,
    /// This machine's rank, `0..nodes`; node 0 hosts the coordinator and writes the run.
    pub node_rank: usize,
    /// `HOST:PORT` of node 0's coordinator (needed when `nodes > 1`).
    pub coordinator: Option<String>,
    /// Seconds a node waits for the coordinator before giving up.
    pub connect_timeout_s: u64,
    /// The training device.
    pub device: DeviceChoice,
    /// Every worker takes the recipe's whole batch, so N workers see N times the lines per
    /// step (Chen and Huo's BMUF setting). Off (the default), the recipe's batch is the run's,
    /// split evenly among the workers: N workers make the same updates on the same lines as
    /// one, each update in about 1/N of the time.
    pub batch_per_worker: bool,
}

impl ScaleConfig {
    /// One worker on one machine: the plain training loop.
    pub fn is_single(&self) -> bool {
        self.workers <= 1 && self.nodes <= 1 && self.strategy.is_none()
    }

    /// Workers on this machine (at least one).
    pub fn local_workers(&self) -> usize {
        self.workers.max(1)
    }

    /// Workers in the whole run.
    pub fn world(&self) -> usize {
        self.local_workers() * self.nodes.max(1)
    }

    /// The batch each worker takes for a recipe batch of `batch` lines.
    pub fn worker_batch(&self, batch: usize) -> usize {
        if !self.batch_per_worker && !self.is_single() {
            (batch / self.world()).max(1)
        } else {
            batch
        }
    }

    /// The strategy in force: when several workers name none, DDP (with a split batch it
    /// makes exactly one worker's updates), or BMUF with `--batch-per-worker`. BMUF's default
    /// block momentum is resolved here: `1 - 1/N` when every worker takes a whole batch (the
    /// average of N workers' blocks moves about as far as one worker's, for N times the
    /// lines, and the momentum makes up the difference), 0 when the batch is split (the
    /// halves of each batch already move as far as the whole batch would).
    pub fn strategy(&self) -> Strategy {
        let default = if self.batch_per_worker {
            Strategy::Bmuf(BmufConfig::default())
        } else {
            Strategy::Ddp
        };
        match self.strategy.unwrap_or(default) {
            Strategy::Bmuf(mut b) => {
                if b.block_momentum.is_none() {
                    b.block_momentum = Some(if self.batch_per_worker {
                        1.0 - 1.0 / self.world() as f64
                    } else {
                        0.0
                    });
                }
                Strategy::Bmuf(b)
            }
            s => s,
        }
    }

    /// Checks the options against a schedule: validations and checkpoints happen on
    /// synchronized models, so their rhythm must be a multiple of the block length; a split
    /// batch must split evenly.
    pub fn validate(&self, batch: usize, eval_every: usize, checkpoint_every: usize) -> Result<()> {
        if self.is_single() {
            return Ok(());
        }
        if !self.batch_per_worker && !batch.is_multiple_of(self.world()) {
            return Err(Error::Config(format!(
                "schedule.batch_size ({batch}) must be a multiple of the {} workers to split it among them (or pass --batch-per-worker)",
                self.world()
            )));
        }
        if let Strategy::Bmuf(b) = self.strategy() {
            if b.sync_every == 0 {
                return Err(Error::Config("--sync-every must be at least 1".into()));
            }
            if b.block_lr.is_nan() || b.block_lr <= 0.0 {
                return Err(Error::Config("--block-lr must be positive".into()));
            }
            if let Some(eta) = b.block_momentum
                && !(0.0..1.0).contains(&eta)
            {
                return Err(Error::Config("--block-momentum must be in [0, 1)".into()));
            }
        }
        let tau = self.strategy().sync_every();
        for (name, every) in [
            ("eval_every", eval_every),
            ("checkpoint_every", checkpoint_every),
        ] {
            if every % tau != 0 {
                return Err(Error::Config(format!(
                    "schedule.{name} ({every}) must be a multiple of --sync-every ({tau}): validations and checkpoints use the synchronized model"
                )));
            }
        }
        if self.nodes > 1 {
            if self.coordinator.is_none() {
                return Err(Error::Config(
                    "--nodes > 1 needs --coordinator HOST:PORT (node 0's address)".into(),
                ));
            }
            if self.node_rank >= self.nodes {
                return Err(Error::Config(format!(
                    "--node-rank {} must be below --nodes {}",
                    self.node_rank, self.nodes
                )));
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;

    /// A device kind by its [`DeviceChoice::name`].
    fn from_str(s: &str) -> Result<Self> {
        DeviceChoice::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                Error::Invalid(format!("unknown device {s:?} (expected cpu, wgpu or cuda)"))
            })
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_split_batch_is_shared_evenly_and_must_divide() {
        let two = ScaleConfig {
            workers: 2,
            ..Default::default()
        };
        assert_eq!(two.worker_batch(16), 8);
        two.validate(16, 64, 64).unwrap();
        let e = two.validate(15, 64, 64).unwrap_err().to_string();
        assert!(e.contains("multiple of the 2 workers"), "{e}");
        // Two nodes of two workers: four shares.
        let four = ScaleConfig {
            nodes: 2,
            coordinator: Some("127.0.0.1:1".into()),
            ..two.clone()
        };
        assert_eq!(four.worker_batch(16), 4);
        // With --batch-per-worker, or alone, every worker takes the recipe's batch.
        let whole = ScaleConfig {
            batch_per_worker: true,
            ..two.clone()
        };
        assert_eq!(whole.worker_batch(16), 16);
        whole.validate(15, 64, 64).unwrap();
        let alone = ScaleConfig::default();
        assert_eq!(alone.worker_batch(16), 16);
        alone.validate(15, 64, 64).unwrap();
        // Several workers naming no strategy: DDP with a split batch, BMUF with a batch each.
        assert_eq!(two.strategy(), Strategy::Ddp);
        assert!(matches!(whole.strategy(), Strategy::Bmuf(_)));
        // BMUF's default block momentum: 0 with a split batch, 1 - 1/N without.
        let eta = |c: &ScaleConfig| {
            let bmuf = ScaleConfig {
                strategy: Some(Strategy::Bmuf(BmufConfig::default())),
                ..c.clone()
            };
            match bmuf.strategy() {
                Strategy::Bmuf(b) => b.block_momentum,
                Strategy::Ddp => None,
            }
        };
        assert_eq!(eta(&two), Some(0.0));
        assert_eq!(eta(&whole), Some(0.5));
    }
}
