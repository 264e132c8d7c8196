//! A module's float tensors as one flat vector (the unit that workers average), and back.
//! Visiting order is the module's field order, the same on every replica of one model.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;

/// Every float tensor of a module (parameters and running statistics), concatenated.
#[derive(Debug, Clone, PartialEq)]
pub struct Flat {
    /// The values.
    pub values: Vec<f32>,
    /// Per value: whether it takes a gradient (trainable, not frozen).
    pub trainable: Vec<bool>,
}

/// Reads a module's float tensors.
pub fn flatten<M: Module>(module: &M) -> Flat {
    struct Collect(Flat);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let t = p.val();
            let trainable = t.is_require_grad();
            let v = crate::models::values(t);
            self.0
                .trainable
                .extend(std::iter::repeat_n(trainable, v.len()));
            self.0.values.extend(v);
        }
    }
    let mut c = Collect(Flat {
        values: Vec::new(),
        trainable: Vec::new(),
    });
    module.visit(&mut c);
    c.0
}

/// Replaces a module's float tensors by `values` (as [`flatten`] laid them out), keeping each
/// tensor's device and whether it takes a gradient.
pub fn unflatten<M: Module>(module: M, values: &[f32]) -> M {
    struct Write<'a> {
        values: &'a [f32],
        at: usize,
    }
    impl ModuleMapper for Write<'_> {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (at, values) = (&mut self.at, self.values);
            p.map(|t| {
                let shape = t.shape();
                let n = shape.num_elements();
                let device = t.device();
                let grad = t.is_require_grad();
                let slice = values.get(*at..*at + n).unwrap_or(&[]);
                *at += n;
                if slice.len() != n {
                    // A layout mismatch is a programming error; keep the tensor as it was.
                    return t;
                }
                let fresh = Tensor::from_data(TensorData::new(slice.to_vec(), shape), &device);
                if grad { fresh.require_grad() } else { fresh }
            })
        }
    }
    module.map(&mut Write { values, at: 0 })
}

/// Where each trainable parameter's gradient lives in a flat gradient vector.
#[derive(Debug, Clone)]
pub struct GradLayout {
    entries: Vec<(ParamId, Vec<usize>)>,
}

impl GradLayout {
    /// The trainable parameters of `module`, in visiting order.
    pub fn of<M: Module>(module: &M) -> Self {
        struct Ids(Vec<(ParamId, Vec<usize>)>);
        impl ModuleVisitor for Ids {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                let t = p.val();
                if t.is_require_grad() {
                    self.0.push((p.id, t.shape().to_vec()));
                }
            }
        }
        let mut ids = Ids(Vec::new());
        module.visit(&mut ids);
        Self { entries: ids.0 }
    }

    /// Length of the flat vector: every gradient, then one presence flag per parameter.
    pub fn len(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum::<usize>()
            + self.entries.len()
    }

    /// Whether there are no trainable parameters.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Moves the gradients into a flat vector (zeros, presence 0 where a parameter got none).
    pub fn take(&self, grads: &mut GradientsParams) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.len());
        let mut present = Vec::with_capacity(self.entries.len());
        for (id, shape) in &self.entries {
            let n: usize = shape.iter().product();
            match take_any(grads, *id, shape.len()) {
                Some(v) if v.len() == n => {
                    out.extend(v);
                    present.push(1.0);
                }
                _ => {
                    out.extend(std::iter::repeat_n(0.0, n));
                    present.push(0.0);
                }
            }
        }
        out.extend(present);
        out
    }

    /// Gradients from a flat vector; parameters whose presence is zero get none.
    pub fn build(&self, flat: &[f32], device: &Device) -> GradientsParams {
        let mut grads = GradientsParams::new();
        let flags = &flat[flat.len() - self.entries.len()..];
        let mut at = 0;
        for ((id, shape), flag) in self.entries.iter().zip(flags) {
            let n: usize = shape.iter().product();
            let v = flat[at..at + n].to_vec();
            at += n;
            if *flag > 0.0 {
                register_any(&mut grads, *id, v, shape, device);
            }
        }
        grads
    }
}

fn take_any(grads: &mut GradientsParams, id: ParamId, rank: usize) -> Option<Vec<f32>> {
    fn get<const D: usize>(g: &mut GradientsParams, id: ParamId) -> Option<Vec<f32>> {
        g.remove::<D>(id).map(crate::models::values)
    }
    match rank {
        1 => get::<1>(grads, id),
        2 => get::<2>(grads, id),
        3 => get::<3>(grads, id),
        4 => get::<4>(grads, id),
        _ => None,
    }
}

fn register_any(
    grads: &mut GradientsParams,
    id: ParamId,
    v: Vec<f32>,
    shape: &[usize],
    device: &Device,
) {
    fn reg<const D: usize>(
        g: &mut GradientsParams,
        id: ParamId,
        v: Vec<f32>,
        s: &[usize],
        d: &Device,
    ) {
        let t = Tensor::<D>::from_data(TensorData::new(v, s.to_vec()), d);
        g.register::<D>(id, t);
    }
    match shape.len() {
        1 => reg::<1>(grads, id, v, shape, device),
        2 => reg::<2>(grads, id, v, shape, device),
        3 => reg::<3>(grads, id, v, shape, device),
        4 => reg::<4>(grads, id, v, shape, device),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::models::config::{CrnnConfig, Preset};

    #[test]
    fn unflatten_of_flatten_is_the_identity_and_values_land_in_place() {
        let device = Device::flex().autodiff();
        let m = CrnnConfig::preset(Preset::TeacherTiny, 5).init_seeded(&device, 1);
        let flat = flatten(&m);
        assert!(flat.trainable.iter().any(|t| *t) && flat.trainable.iter().any(|t| !*t));
        let doubled: Vec<f32> = flat.values.iter().map(|v| v * 2.0 + 1.0).collect();
        let m2 = unflatten(m, &doubled);
        let back = flatten(&m2);
        assert_eq!(back.values, doubled);
        assert_eq!(back.trainable, flat.trainable);
    }
}
