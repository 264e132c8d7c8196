//! The paper's five teacher-student criteria. Each compares one sequence of the teacher with
//! the same sequence of the student, frame by frame, summed over the valid (unpadded) frames
//! of a line and averaged over the batch. `mask: [batch, frames]` is 1 on valid frames.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use serde::{Deserialize, Serialize};

/// Which criterion to distill with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Criterion {
    /// Cross entropy between the softmaxes at temperature T of the IP outputs.
    SoftmaxCe {
        /// Temperature T > 0 (the paper tries 1, 2, 5, 10).
        temperature: f64,
    },
    /// Squared L2 distance of the IP outputs.
    IpL2,
    /// Squared L2 distance of the last BLSTM layer's outputs.
    LstmL2,
    /// Squared L2 distance of the CNN outputs seen through the first BLSTM's input weights.
    CnnMah,
    /// Squared L2 distance of the CNN outputs.
    CnnL2,
}

impl Criterion {
    /// Short name, e.g. `softmax-ce(T=2)`.
    pub fn name(&self) -> String {
        match self {
            Criterion::SoftmaxCe { temperature } => format!("softmax-ce(T={temperature})"),
            other => other.kind().name().into(),
        }
    }

    /// Which criterion it is, without its temperature.
    pub fn kind(&self) -> CriterionKind {
        match self {
            Criterion::SoftmaxCe { .. } => CriterionKind::SoftmaxCe,
            Criterion::IpL2 => CriterionKind::IpL2,
            Criterion::LstmL2 => CriterionKind::LstmL2,
            Criterion::CnnMah => CriterionKind::CnnMah,
            Criterion::CnnL2 => CriterionKind::CnnL2,
        }
    }
}

/// The five criteria by name, without parameters (the one source of their names, for the
/// command line and the app's form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriterionKind {
    /// [`Criterion::SoftmaxCe`].
    SoftmaxCe,
    /// [`Criterion::IpL2`].
    IpL2,
    /// [`Criterion::LstmL2`].
    LstmL2,
    /// [`Criterion::CnnMah`] (the app's default).
    #[default]
    CnnMah,
    /// [`Criterion::CnnL2`].
    CnnL2,
}

impl CriterionKind {
    /// Every criterion, in the paper's order.
    pub const ALL: [CriterionKind; 5] = [
        CriterionKind::SoftmaxCe,
        CriterionKind::IpL2,
        CriterionKind::LstmL2,
        CriterionKind::CnnMah,
        CriterionKind::CnnL2,
    ];

    /// Its name: `softmax-ce`, `ip-l2`, `lstm-l2`, `cnn-mah`, `cnn-l2`.
    pub fn name(self) -> &'static str {
        match self {
            CriterionKind::SoftmaxCe => "softmax-ce",
            CriterionKind::IpL2 => "ip-l2",
            CriterionKind::LstmL2 => "lstm-l2",
            CriterionKind::CnnMah => "cnn-mah",
            CriterionKind::CnnL2 => "cnn-l2",
        }
    }

    /// The criterion, with `temperature` for softmax-ce.
    pub fn with_temperature(self, temperature: f64) -> Criterion {
        match self {
            CriterionKind::SoftmaxCe => Criterion::SoftmaxCe { temperature },
            CriterionKind::IpL2 => Criterion::IpL2,
            CriterionKind::LstmL2 => Criterion::LstmL2,
            CriterionKind::CnnMah => Criterion::CnnMah,
            CriterionKind::CnnL2 => Criterion::CnnL2,
        }
    }
}

/// Sums `per_frame: [batch, frames]` over valid frames and averages over the batch: `[1]`.
pub fn masked_mean_of_sums(per_frame: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    let [b, _] = per_frame.dims();
    (per_frame * mask).sum().div_scalar(b as f64)
}

/// Squared distance per frame: `[batch, frames, d]` x2 -> `[batch, frames]`.
fn squared_distance(a: Tensor<3>, b: Tensor<3>) -> Tensor<2> {
    (a - b).powi_scalar(2).sum_dim(2).squeeze_dim(2)
}

/// Softmax-CE: L = -sum_n sum_i P_T(n,i) log P_S(n,i), with
/// P_*(n) = softmax(a_*(n) / tau) of the IP outputs a_n.
#[derive(Debug, Clone, Copy)]
pub struct SoftmaxCe {
    /// Temperature tau.
    pub temperature: f64,
}

impl SoftmaxCe {
    /// # Shapes
    /// `teacher_ip`, `student_ip: [batch, frames, classes]`, `mask: [batch, frames]` -> `[1]`
    pub fn forward(
        &self,
        teacher_ip: Tensor<3>,
        student_ip: Tensor<3>,
        mask: Tensor<2>,
    ) -> Tensor<1> {
        let t = 1.0 / self.temperature;
        let p_t = softmax(teacher_ip.mul_scalar(t), 2);
        let log_p_s = log_softmax(student_ip.mul_scalar(t), 2);
        let per_frame = (p_t * log_p_s).sum_dim(2).squeeze_dim(2).neg();
        masked_mean_of_sums(per_frame, mask)
    }
}

/// IP-L2: L = sum_n ||a_T(n) - a_S(n)||^2 on the IP outputs.
#[derive(Debug, Clone, Copy)]
pub struct IpL2;

impl IpL2 {
    /// # Shapes
    /// `[batch, frames, classes]` x2, `mask: [batch, frames]` -> `[1]`
    pub fn forward(
        &self,
        teacher_ip: Tensor<3>,
        student_ip: Tensor<3>,
        mask: Tensor<2>,
    ) -> Tensor<1> {
        masked_mean_of_sums(squared_distance(teacher_ip, student_ip), mask)
    }
}

/// LSTM-L2: L = sum_n ||l_T(n) - l_S(n)||^2 on the last BLSTM layer's outputs.
#[derive(Debug, Clone, Copy)]
pub struct LstmL2;

impl LstmL2 {
    /// # Shapes
    /// `[batch, frames, 2 * hidden]` x2, `mask: [batch, frames]` -> `[1]`
    pub fn forward(
        &self,
        teacher_lstm: Tensor<3>,
        student_lstm: Tensor<3>,
        mask: Tensor<2>,
    ) -> Tensor<1> {
        masked_mean_of_sums(squared_distance(teacher_lstm, student_lstm), mask)
    }
}

/// CNN-L2: L = sum_n ||x_T(n) - x_S(n)||^2 on the CNN output sequence.
#[derive(Debug, Clone, Copy)]
pub struct CnnL2;

impl CnnL2 {
    /// # Shapes
    /// `[batch, frames, d]` x2, `mask: [batch, frames]` -> `[1]`
    pub fn forward(
        &self,
        teacher_cnn: Tensor<3>,
        student_cnn: Tensor<3>,
        mask: Tensor<2>,
    ) -> Tensor<1> {
        masked_mean_of_sums(squared_distance(teacher_cnn, student_cnn), mask)
    }
}

/// CNN-MAH: L = sum_n ||W (x_T(n) - x_S(n))||^2 = sum_n d_n^T W^T W d_n, with W the
/// feed-forward (input) weights of the first BLSTM layer, both directions and all gates
/// stacked (8 * hidden rows, d columns): a Mahalanobis-like distance that weighs each feature
/// by how much the fixed DBLSTM listens to it.
///
/// With our weight layout `w_input: [d, 8 * hidden]` (= W^T), the Gram matrix
/// G = W^T W = w_input w_input^T is `[d, d]`; the loss uses `d_n G d_n` when d < 8 * hidden
/// (cheaper) and `||d_n w_input||^2` otherwise.
#[derive(Debug, Clone)]
pub struct CnnMah {
    /// `[d, d]` Gram matrix, or the `[d, 8h]` weights when that is cheaper.
    metric: Tensor<2>,
    gram: bool,
}

impl CnnMah {
    /// From the first BLSTM layer's input weights `[d, 8 * hidden]` (no gradient flows into them).
    pub fn new(w_input: Tensor<2>) -> Self {
        let w = w_input.detach();
        let [d, g] = w.dims();
        if d < g {
            Self {
                metric: w.clone().matmul(w.transpose()),
                gram: true,
            }
        } else {
            Self {
                metric: w,
                gram: false,
            }
        }
    }

    /// # Shapes
    /// `[batch, frames, d]` x2, `mask: [batch, frames]` -> `[1]`
    pub fn forward(
        &self,
        teacher_cnn: Tensor<3>,
        student_cnn: Tensor<3>,
        mask: Tensor<2>,
    ) -> Tensor<1> {
        let diff = teacher_cnn - student_cnn;
        let [b, t, d] = diff.dims();
        let flat = diff.reshape([b * t, d]);
        let per_frame = if self.gram {
            (flat.clone().matmul(self.metric.clone()) * flat).sum_dim(1)
        } else {
            flat.matmul(self.metric.clone()).powi_scalar(2).sum_dim(1)
        };
        masked_mean_of_sums(per_frame.reshape([b, t]), mask)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
    }

    fn t3(v: &[f32], shape: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &Device::flex())
    }

    #[test]
    fn l2_criteria_against_hand_computed_values() {
        // Two lines, two frames, two dims; the second line's second frame is padding.
        let a = t3(&[1.0, 2.0, 0.0, 0.0, 3.0, 1.0, 9.0, 9.0], [2, 2, 2]);
        let b = t3(&[0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [2, 2, 2]);
        let mask = Tensor::<2>::from_floats([[1.0, 1.0], [1.0, 0.0]], &Device::flex());
        // line 1: (1+4) + (1+1) = 7; line 2: 4 (padding ignored) -> mean 5.5
        for v in [
            IpL2.forward(a.clone(), b.clone(), mask.clone()),
            LstmL2.forward(a.clone(), b.clone(), mask.clone()),
            CnnL2.forward(a.clone(), b.clone(), mask.clone()),
        ] {
            close(v.into_scalar::<f32>(), 5.5);
        }
        // CNN-MAH with W = [[1, 0], [1, 1], [0, 2]] (3 gates x 2 dims): w_input = W^T.
        let w_input = Tensor::<2>::from_floats([[1.0, 1.0, 0.0], [0.0, 1.0, 2.0]], &Device::flex());
        // d = (1,2): W d = (1, 3, 4) -> 26; d = (-1,-1): (-1,-2,-2) -> 9; d = (2,0): (2,2,0) -> 8.
        // line 1: 35, line 2: 8 -> mean 21.5
        close(
            CnnMah::new(w_input)
                .forward(a, b, mask)
                .into_scalar::<f32>(),
            21.5,
        );
    }

    #[test]
    fn softmax_ce_against_hand_computed_value() {
        let device = Device::flex();
        let a_t = t3(&[0.0, 2.0_f32.ln()], [1, 1, 2]); // softmax at T=1: (1/3, 2/3)
        let a_s = t3(&[0.0, 0.0], [1, 1, 2]); // (1/2, 1/2)
        let mask = Tensor::<2>::ones([1, 1], &device);
        let v = SoftmaxCe { temperature: 1.0 }.forward(a_t.clone(), a_s.clone(), mask.clone());
        close(v.into_scalar::<f32>(), 2.0f32.ln());
        // At T = 2 the teacher's distribution softens: p = softmax((0, ln 2 / 2)).
        let p1 = 1.0 / (1.0 + 2.0f32.sqrt());
        let expected = -(p1 * 0.5f32.ln() + (1.0 - p1) * 0.5f32.ln());
        close(
            SoftmaxCe { temperature: 2.0 }
                .forward(a_t, a_s, mask)
                .into_scalar::<f32>(),
            expected,
        );
    }

    #[test]
    fn cnn_mah_equals_the_explicit_form_both_ways() {
        let device = Device::flex();
        let x_t = Tensor::<3>::random([2, 5, 6], Distribution::Normal(0.0, 1.0), &device);
        let x_s = Tensor::<3>::random([2, 5, 6], Distribution::Normal(0.0, 1.0), &device);
        let mask = Tensor::<2>::ones([2, 5], &device);
        for gates in [4, 16] {
            let w_input = Tensor::<2>::random([6, gates], Distribution::Normal(0.0, 1.0), &device);
            let fast = CnnMah::new(w_input.clone())
                .forward(x_t.clone(), x_s.clone(), mask.clone())
                .into_scalar::<f32>();
            // Explicit: ||W d||^2 per frame, W = w_input^T.
            let d = (x_t.clone() - x_s.clone()).reshape([10, 6]);
            let explicit = d.matmul(w_input).powi_scalar(2).sum().into_scalar::<f32>() / 2.0;
            close(fast, explicit);
        }
    }
}
