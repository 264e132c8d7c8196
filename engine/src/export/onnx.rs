//! ONNX export of a trained CRNN (opset 17), from the fast path's converted network, so that
//! BatchNorm is already folded and the graph is exactly the one the fast path runs:
//! `image [1, 1, height, width]` -> Conv/Relu/MaxPool ... -> `[frames, 1, features]` ->
//! two bidirectional `LSTM` nodes -> `MatMul + Add` -> `LogSoftmax` -> `log_probs [frames, 1,
//! classes]`. The width is a symbolic dimension; pad it to a multiple of the model's stride.

use super::protobuf::Message;
use crate::error::{Error, Result};
use crate::infer::FastModel;
use crate::infer::model::FastLayer;
use std::path::Path;

const FLOAT: i64 = 1;
const INT64: i64 = 7;
const OPSET: i64 = 17;
const IR_VERSION: i64 = 8;

/// Builds the graph node by node.
#[derive(Default)]
struct Graph {
    nodes: Vec<Message>,
    initializers: Vec<Message>,
    counter: usize,
}

enum Attr<'a> {
    Int(i64),
    Ints(&'a [i64]),
    Str(&'a str),
}

impl Graph {
    fn name(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }

    fn tensor(&mut self, prefix: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.name(prefix);
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        self.initializers.push(
            Message::new()
                .packed_ints(1, &dims)
                .int(2, FLOAT)
                .string(8, &name)
                .bytes(9, &raw),
        );
        name
    }

    fn int64s(&mut self, prefix: &str, values: &[i64]) -> String {
        let name = self.name(prefix);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(
            Message::new()
                .packed_ints(1, &[values.len() as i64])
                .int(2, INT64)
                .string(8, &name)
                .bytes(9, &raw),
        );
        name
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.name(&op.to_lowercase());
        self.node_into(op, inputs, attrs, out)
    }

    fn node_into(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: &[(&str, Attr)],
        out: String,
    ) -> String {
        let mut m = Message::new();
        for i in inputs {
            m = m.string(1, i);
        }
        m = m.string(2, &out).string(3, &out).string(4, op);
        for (name, a) in attrs {
            let attr = Message::new().string(1, name);
            let attr = match a {
                Attr::Int(v) => attr.int(3, *v).int(20, 2),
                Attr::Ints(vs) => attr.packed_ints(8, vs).int(20, 7),
                Attr::Str(s) => attr.string(4, s).int(20, 3),
            };
            m = m.message(5, &attr);
        }
        self.nodes.push(m);
        out
    }
}

fn value_info(name: &str, dims: &[Result<i64, &str>]) -> Message {
    let mut shape = Message::new();
    for d in dims {
        let dim = match d {
            Ok(v) => Message::new().int(1, *v),
            Err(p) => Message::new().string(2, p),
        };
        shape = shape.message(1, &dim);
    }
    let tensor = Message::new().int(1, FLOAT).message(2, &shape);
    Message::new()
        .string(1, name)
        .message(2, &Message::new().message(1, &tensor))
}

/// The ONNX model as bytes.
pub fn to_onnx(model: &FastModel) -> Vec<u8> {
    let mut g = Graph::default();
    let mut x = "image".to_string();
    let mut channels = 1usize;
    let mut rows = model.height;
    for layer in &model.layers {
        match layer {
            FastLayer::Conv(c) => {
                let w = g.tensor("conv_w", &[c.c_out, c.c_in, c.kernel, c.kernel], &c.w);
                let b = g.tensor("conv_b", &[c.c_out], &c.b);
                let k = c.kernel as i64;
                let p = k / 2;
                x = g.node(
                    "Conv",
                    &[&x, &w, &b],
                    &[
                        ("kernel_shape", Attr::Ints(&[k, k])),
                        ("pads", Attr::Ints(&[p, p, p, p])),
                        ("strides", Attr::Ints(&[1, 1])),
                    ],
                );
                if c.relu {
                    x = g.node("Relu", &[&x], &[]);
                }
                channels = c.c_out;
            }
            FastLayer::Pool { ph, pw } => {
                let k = [*ph as i64, *pw as i64];
                x = g.node(
                    "MaxPool",
                    &[&x],
                    &[
                        ("kernel_shape", Attr::Ints(&k)),
                        ("strides", Attr::Ints(&k)),
                    ],
                );
                rows /= ph;
            }
        }
    }
    // [1, C, H, T] -> [T, 1, C, H] -> [T, 1, C * H] (feature index c * H + row, as the fast path).
    x = g.node("Transpose", &[&x], &[("perm", Attr::Ints(&[3, 0, 1, 2]))]);
    let flat = g.int64s("shape", &[0, 0, (channels * rows) as i64]);
    x = g.node("Reshape", &[&x, &flat], &[]);
    for l in &model.lstm {
        let h = l.hidden;
        let d = l.d_in;
        // Ours: i, f, g, o per direction; ONNX: i, o, f, c.
        let order = [0usize, 3, 1, 2];
        let mut w = vec![0.0f32; 2 * 4 * h * d];
        let mut r = vec![0.0f32; 2 * 4 * h * h];
        let mut b = vec![0.0f32; 2 * 8 * h];
        for dir in 0..2 {
            for (q, &ours) in order.iter().enumerate() {
                for j in 0..h {
                    let col = dir * 4 * h + ours * h + j;
                    let row = (dir * 4 + q) * h + j;
                    for k in 0..d {
                        w[row * d + k] = l.w_input[k * 8 * h + col];
                    }
                    for k in 0..h {
                        r[row * h + k] = l.w_hidden[dir * h * 4 * h + k * 4 * h + ours * h + j];
                    }
                    b[dir * 8 * h + q * h + j] = l.bias[col];
                }
            }
        }
        let wn = g.tensor("lstm_w", &[2, 4 * h, d], &w);
        let rn = g.tensor("lstm_r", &[2, 4 * h, h], &r);
        let bn = g.tensor("lstm_b", &[2, 8 * h], &b);
        // Y: [T, 2, 1, h] -> [T, 1, 2, h] -> [T, 1, 2h]
        x = g.node(
            "LSTM",
            &[&x, &wn, &rn, &bn],
            &[
                ("direction", Attr::Str("bidirectional")),
                ("hidden_size", Attr::Int(h as i64)),
            ],
        );
        x = g.node("Transpose", &[&x], &[("perm", Attr::Ints(&[0, 2, 1, 3]))]);
        let flat = g.int64s("shape", &[0, 0, (2 * h) as i64]);
        x = g.node("Reshape", &[&x, &flat], &[]);
    }
    let d = model.ip_w.len() / model.classes.max(1);
    let ipw = g.tensor("ip_w", &[d, model.classes], &model.ip_w);
    let ipb = g.tensor("ip_b", &[model.classes], &model.ip_b);
    x = g.node("MatMul", &[&x, &ipw], &[]);
    x = g.node("Add", &[&x, &ipb], &[]);
    x = g.node("LogSoftmax", &[&x], &[("axis", Attr::Int(-1))]);
    let out = g.node_into("Identity", &[&x], &[], "log_probs".into());

    let mut graph = Message::new();
    for n in &g.nodes {
        graph = graph.message(1, n);
    }
    graph = graph.string(2, "inkling_crnn");
    for t in &g.initializers {
        graph = graph.message(5, t);
    }
    graph = graph.message(
        11,
        &value_info(
            "image",
            &[Ok(1), Ok(1), Ok(model.height as i64), Err("width")],
        ),
    );
    graph = graph.message(
        12,
        &value_info(&out, &[Err("frames"), Ok(1), Ok(model.classes as i64)]),
    );
    Message::new()
        .int(1, IR_VERSION)
        .string(2, "inkling")
        .string(3, env!("CARGO_PKG_VERSION"))
        .message(7, &graph)
        .message(8, &Message::new().string(1, "").int(2, OPSET))
        .0
}

/// Writes the model as an ONNX file (atomically).
pub fn write(model: &FastModel, path: &Path) -> Result<()> {
    let tmp = path.with_extension("onnx.tmp");
    std::fs::write(&tmp, to_onnx(model)).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
