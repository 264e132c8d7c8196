//! One worker's link to the others while it trains: its rank, the group it averages with on
//! this machine, the link to the other machines, and the BMUF filter; and the replica each
//! extra worker trains on. The training loop ([`super::runner`]) calls it at every step.

use crate::error::Result;
use crate::model_file::ModelHeader;
use crate::models::crnn::Crnn;
use crate::scale::Strategy;
use crate::scale::bmuf::BlockFilter;
use crate::scale::flat::{GradLayout, flatten, unflatten};
use crate::scale::group::{LocalGroup, Reduced, STOP};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// One worker's place in the run.
pub struct WorkerSync<'a> {
    /// Global rank (0 is the leader).
    pub rank: usize,
    /// Workers in the whole run.
    pub world: usize,
    /// This machine's workers.
    pub group: &'a LocalGroup,
    /// How workers combine.
    pub strategy: Strategy,
}

impl WorkerSync<'_> {
    /// Whether this worker writes the run.
    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }

    /// Starts (or resumes) every worker from the leader's model, step and block momentum.
    /// Returns the model, the step and, for BMUF, the block filter.
    pub fn start(
        &self,
        model: Crnn,
        step: usize,
        delta: Option<Vec<f32>>,
    ) -> Result<(Crnn, usize, Option<BlockFilter>)> {
        let flat = flatten(&model);
        let n = flat.values.len();
        let mut buf = flat.values;
        match delta {
            Some(d) if d.len() == n => buf.extend(d),
            _ => buf.extend(std::iter::repeat_n(0.0, n)),
        }
        buf.push(step as f32);
        let weight = if self.is_leader() { 1.0 } else { 0.0 };
        self.group.all_reduce(&mut buf, weight, 0)?;
        let step = buf[2 * n].round() as usize;
        let model = unflatten(model, &buf[..n]);
        let filter = match self.strategy {
            Strategy::Bmuf(cfg) => Some(
                BlockFilter::new(&cfg, self.world, buf[..n].to_vec(), flat.trainable)
                    .resumed(&buf[n..2 * n]),
            ),
            Strategy::Ddp => None,
        };
        let model = match &filter {
            Some(f) if f.nesterov => unflatten(model, &f.global),
            _ => model,
        };
        Ok((model, step, filter))
    }

    /// DDP: averages this step's gradients (weighted by lines) over all workers. `grads` is
    /// `None` when this worker has nothing to contribute (empty batch, non-finite loss).
    /// Returns the averaged gradients, or `None` when no worker contributed.
    pub fn average_gradients(
        &self,
        layout: &GradLayout,
        grads: Option<GradientsParams>,
        lines: usize,
        flags: u32,
        device: &Device,
    ) -> Result<(Option<GradientsParams>, Reduced)> {
        let (mut buf, weight) = match grads {
            Some(mut g) => (layout.take(&mut g), lines as f64),
            None => (vec![0.0; layout.len()], 0.0),
        };
        let reduced = self.group.all_reduce(&mut buf, weight, flags)?;
        if reduced.total_weight <= 0.0 {
            return Ok((None, reduced));
        }
        Ok((Some(layout.build(&buf, device)), reduced))
    }

    /// BMUF: ends a block. Averages the models (weighted by lines since the last block),
    /// filters the average and returns the model the next block starts from.
    pub fn end_block(
        &self,
        model: Crnn,
        filter: &mut BlockFilter,
        lines: usize,
        flags: u32,
    ) -> Result<(Crnn, Reduced)> {
        let mut buf = flatten(&model).values;
        let reduced = self.group.all_reduce(&mut buf, lines as f64, flags)?;
        if reduced.total_weight <= 0.0 {
            // Nobody trained in this block: keep the global model.
            return Ok((unflatten(model, &filter.global), reduced));
        }
        let global = filter.update(&buf);
        Ok((unflatten(model, global), reduced))
    }

    /// The model to validate and save: `W(t)`, which differs from the worker's starting
    /// point `W_g(t)` under Nesterov momentum.
    pub fn filtered_model(&self, model: &Crnn, filter: Option<&BlockFilter>) -> Crnn {
        match filter {
            Some(f) if f.nesterov => unflatten(model.clone(), &f.model),
            _ => model.clone(),
        }
    }

    /// Whether a reduce asked everyone to stop.
    pub fn stop_requested(reduced: &Reduced) -> bool {
        reduced.flags & STOP != 0
    }
}

/// An independent copy of `model` on `device` for another worker. Cloning a Burn module is not
/// enough: clones share their BatchNorm running statistics (one `Arc<Mutex<..>>`), so replicas
/// would write each other's statistics. A round trip through the model format copies
/// everything; like a loaded checkpoint, the copy is unfrozen before use.
pub fn replica(model: &Crnn, header: &ModelHeader, device: &Device) -> Result<Crnn> {
    let mut full = header.clone();
    full.half = false;
    let bytes = crate::model_file::to_bytes(model, &full)?;
    let copy = crate::model_file::from_bytes(&bytes, std::path::Path::new("<replica>"), device)?;
    Ok(copy.model.unfreeze())
}
