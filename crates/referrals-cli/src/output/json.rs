//! `ndjson` and `json`: the referral exactly as received, unknown fields included (the model
//! keeps them).

use std::io::{self, Write};

use referrals::Referral;

use super::Sink;

/// One JSON object per line.
pub struct Ndjson<W: Write> {
    out: W,
}

impl<W: Write> Ndjson<W> {
    pub fn new(out: W) -> Self {
        Ndjson { out }
    }
}

impl<W: Write> Sink for Ndjson<W> {
    fn item(&mut self, referral: &Referral) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, referral)?;
        self.out.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One JSON array, written as the items come: `[`, the items one per line, `]`.
pub struct JsonArray<W: Write> {
    out: W,
    first: bool,
    closed: bool,
}

impl<W: Write> JsonArray<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(JsonArray {
            out,
            first: true,
            closed: false,
        })
    }
}

impl<W: Write> Sink for JsonArray<W> {
    fn item(&mut self, referral: &Referral) -> io::Result<()> {
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, referral)?;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.closed {
            self.closed = true;
            self.out
                .write_all(if self.first { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referral(json: &str) -> Referral {
        serde_json::from_str(json).expect("a referral")
    }

    #[test]
    fn ndjson_keeps_unknown_fields() {
        let mut sink = Ndjson::new(Vec::new());
        sink.item(&referral(r#"{"id":"a","newField":{"x":[1,2]}}"#))
            .unwrap();
        sink.finish().unwrap();
        let text = String::from_utf8(sink.out).unwrap();
        assert_eq!(text, "{\"id\":\"a\",\"newField\":{\"x\":[1,2]}}\n");
    }

    #[test]
    fn json_is_one_valid_array_whatever_the_count() {
        for n in [0, 1, 3] {
            let mut sink = JsonArray::new(Vec::new()).unwrap();
            for i in 0..n {
                sink.item(&referral(&format!(r#"{{"id":"r{i}"}}"#)))
                    .unwrap();
            }
            sink.finish().unwrap();
            sink.finish().unwrap();
            let value: serde_json::Value = serde_json::from_slice(&sink.out).unwrap();
            assert_eq!(value.as_array().map(Vec::len), Some(n), "{value}");
        }
    }
}
