//! Image operations on gray line images: loading, normalization, crops, drawing and page
//! segmentation into lines.

pub mod draw;
pub mod normalize;
pub mod segment;
