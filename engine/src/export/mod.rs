//! Exporting trained models to other runtimes (ONNX), so that peers can run the very same
//! network in `engine bench`, and users can deploy it elsewhere.

pub mod npy;
pub mod onnx;
mod protobuf;
