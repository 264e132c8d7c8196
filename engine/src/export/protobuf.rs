//! The few pieces of the protobuf wire format that an ONNX file needs: varints,
//! length-delimited fields and packed repeated integers. Field numbers come from `onnx.proto`.

/// A message under construction.
#[derive(Debug, Default, Clone)]
pub struct Message(pub Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&mut self, field: u32, wire: u8) {
        varint(&mut self.0, (u64::from(field) << 3) | u64::from(wire));
    }

    /// An integer field (int64/int32/enum, wire type 0; negative values as 10-byte varints).
    pub fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, 0);
        varint(&mut self.0, v as u64);
        self
    }

    /// A bytes or string field.
    pub fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        self.key(field, 2);
        varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    /// A string field.
    pub fn string(self, field: u32, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    /// An embedded message field.
    pub fn message(self, field: u32, m: &Message) -> Self {
        self.bytes(field, &m.0)
    }

    /// A packed repeated int64 field.
    pub fn packed_ints(self, field: u32, vs: &[i64]) -> Self {
        let mut body = Vec::new();
        for &v in vs {
            varint(&mut body, v as u64);
        }
        self.bytes(field, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_protobuf_reference() {
        // Examples from the protobuf encoding guide: field 1 = 150 -> 08 96 01;
        // field 2 = "testing" -> 12 07 74 65 73 74 69 6e 67.
        assert_eq!(Message::new().int(1, 150).0, vec![0x08, 0x96, 0x01]);
        assert_eq!(
            Message::new().string(2, "testing").0,
            vec![0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]
        );
        // Packed repeated: field 4 = [3, 270, 86942] -> 22 06 03 8E 02 9E A7 05.
        assert_eq!(
            Message::new().packed_ints(4, &[3, 270, 86942]).0,
            vec![0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05]
        );
        // -1 takes ten bytes.
        assert_eq!(Message::new().int(1, -1).0.len(), 11);
    }
}
