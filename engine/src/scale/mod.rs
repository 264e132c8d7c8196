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
    /// How workers combine; `None` with one worker on one machine is plain training.
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

    /// The strategy in force (BMUF with defaults when several workers name none).
    pub fn strategy(&self) -> Strategy {
        self.strategy
            .unwrap_or_else(|| Strategy::Bmuf(BmufConfig::default()))
    }

    /// Checks the options against a schedule: validations and checkpoints happen on
    /// synchronized models, so their rhythm must be a multiple of the block length.
    pub fn validate(&self, eval_every: usize, checkpoint_every: usize) -> Result<()> {
        if self.is_single() {
            return Ok(());
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
