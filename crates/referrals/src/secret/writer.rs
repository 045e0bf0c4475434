//! A writer that masks secrets before text leaves the process.

use std::io::{self, Write};

use super::mask_secrets;

/// An [`io::Write`] that passes text on line by line with every secret masked
/// ([`mask_secrets`]): for a log writer or any output that may carry text from a server.
///
/// Text goes on at each newline, at [`flush`](Write::flush) and when the writer is dropped (a
/// secret holds no newline, so masking line by line misses none).
///
/// ```
/// use std::io::Write;
/// use referrals::{MaskingWriter, Secret};
///
/// let token = Secret::new("a-bearer-token-value");
/// let mut out = Vec::new();
/// {
///     let mut writer = MaskingWriter::new(&mut out);
///     write!(writer, "the server said: a-bearer-")?;
///     writeln!(writer, "token-value is wrong")?;
/// }
/// assert_eq!(String::from_utf8_lossy(&out), "the server said: [redacted] is wrong\n");
/// # drop(token);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// With `tracing-subscriber`: `fmt().with_writer(|| MaskingWriter::new(std::io::stderr()))`.
pub struct MaskingWriter<W: Write> {
    inner: W,
    /// Text since the last newline.
    pending: Vec<u8>,
}

// What is pending may hold a secret: never shown.
impl<W: Write> std::fmt::Debug for MaskingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskingWriter")
            .field("pending_bytes", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> MaskingWriter<W> {
    /// Masks what is written before passing it to `inner`.
    pub fn new(inner: W) -> Self {
        MaskingWriter {
            inner,
            pending: Vec::new(),
        }
    }

    fn pass_on(&mut self, upto: usize) -> io::Result<()> {
        let lines: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&lines);
        self.inner.write_all(mask_secrets(&text).as_bytes())
    }
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if let Some(last) = self.pending.iter().rposition(|b| *b == b'\n') {
            self.pass_on(last + 1)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pass_on(self.pending.len())?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for MaskingWriter<W> {
    fn drop(&mut self) {
        // Nothing to report a failure to; the text is lost as it would be unwritten.
        let _ = self.flush();
    }
}
