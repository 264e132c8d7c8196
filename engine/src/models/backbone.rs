//! The CNN backbone: a sequence of conv / pool / projection layers built from a layer plan.
//! VGG and DarkNet differ only in their plans (see [`super::config`]).

use super::config::LayerSpec;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;

/// Convolution + BatchNorm + ReLU ("same" padding).
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution (bias off: BatchNorm follows).
    pub conv: Conv2d,
    /// Batch normalization.
    pub norm: BatchNorm,
}

impl ConvBlock {
    fn new(c_in: usize, c_out: usize, kernel: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_padding(PaddingConfig2d::Explicit(
                    kernel / 2,
                    kernel / 2,
                    kernel / 2,
                    kernel / 2,
                ))
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(c_out).init(device),
        }
    }

    /// # Shapes
    /// `[batch, c_in, h, w]` -> `[batch, c_out, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        super::ops::batch_norm::batch_norm_relu(super::ops::conv::conv2d(x, &self.conv), &self.norm)
    }
}

/// A Tucker-2 chain replacing a conv3x3: conv1x1 -> conv3x3 -> conv1x1, then BatchNorm + ReLU.
#[derive(Module, Debug)]
pub struct TuckerBlock {
    /// conv1x1, C_in -> R_in (no bias).
    pub first: Conv2d,
    /// conv3x3 core, R_in -> R_out (no bias).
    pub core: Conv2d,
    /// conv1x1, R_out -> C_out (no bias).
    pub last: Conv2d,
    /// Batch normalization of the original layer.
    pub norm: BatchNorm,
}

impl TuckerBlock {
    fn new(c_in: usize, r_in: usize, r_out: usize, c_out: usize, device: &Device) -> Self {
        let conv = |a: usize, b: usize, k: usize| {
            Conv2dConfig::new([a, b], [k, k])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .with_bias(false)
                .init(device)
        };
        Self {
            first: conv(c_in, r_in, 1),
            core: conv(r_in, r_out, 3),
            last: conv(r_out, c_out, 1),
            norm: BatchNormConfig::new(c_out).init(device),
        }
    }

    /// # Shapes
    /// `[batch, c_in, h, w]` -> `[batch, c_out, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let conv = super::ops::conv::conv2d;
        let x = conv(conv(conv(x, &self.first), &self.core), &self.last);
        super::ops::batch_norm::batch_norm_relu(x, &self.norm)
    }
}

/// One built layer. (Variants differ in size; a network holds a few dozen, built once.)
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Layer {
    /// Conv + BN + ReLU.
    Conv(ConvBlock),
    /// Max pooling.
    Pool(MaxPool2d),
    /// Linear conv1x1 projection (with bias).
    Project(Conv2d),
    /// Tucker-decomposed conv3x3.
    Tucker(TuckerBlock),
}

/// The CNN part of a CRNN.
#[derive(Module, Debug)]
pub struct Backbone {
    /// Layers in order.
    pub layers: Vec<Layer>,
}

impl Backbone {
    /// Builds the layers of `plan` for a 1-channel input.
    pub fn new(plan: &[LayerSpec], device: &Device) -> Self {
        let mut c_in = 1;
        let mut layers = Vec::with_capacity(plan.len());
        for spec in plan {
            layers.push(match *spec {
                LayerSpec::Conv { kernel, out } => {
                    let l = Layer::Conv(ConvBlock::new(c_in, out, kernel, device));
                    c_in = out;
                    l
                }
                LayerSpec::Pool { h, w } => Layer::Pool(MaxPool2dConfig::new([h, w]).init()),
                LayerSpec::Project { out } => {
                    let l = Layer::Project(Conv2dConfig::new([c_in, out], [1, 1]).init(device));
                    c_in = out;
                    l
                }
                LayerSpec::Tucker { r_in, r_out, out } => {
                    let l = Layer::Tucker(TuckerBlock::new(c_in, r_in, r_out, out, device));
                    c_in = out;
                    l
                }
            });
        }
        Self { layers }
    }

    /// # Shapes
    /// `[batch, 1, height, width]` -> `[batch, channels, height', width / stride]`
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for layer in &self.layers {
            x = match layer {
                Layer::Conv(b) => b.forward(x),
                Layer::Pool(p) => super::ops::max_pool::max_pool2d(x, p),
                Layer::Project(c) => c.forward(x),
                Layer::Tucker(t) => t.forward(x),
            };
        }
        x
    }
}
