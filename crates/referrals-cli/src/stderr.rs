//! Every line the CLI writes to stderr (errors, hints, notes, the logs of `-v`) leaves through
//! here, with every secret the process holds masked ([`referrals::mask_secrets`]) whatever the
//! text's origin (an API's error body, a tool's output, a URL), and control characters escaped
//! ([`referrals::query::printable`]), so that no text a server chose reaches the terminal as an
//! escape sequence. The [`say!`](crate::say) macro is the CLI's `say!`, which clippy refuses
//! in this crate (`clippy.toml`).
//!
//! Standard output is not rewritten: it carries the data a command was asked for (referrals as
//! JSON, NDJSON, CSV or a table, journal rows), which must stay lossless; see "Secrets" in
//! `docs/reliability.md`.

use std::fmt;
use std::io::Write;

use referrals::MaskingWriter;

/// `args` as one message on stderr (a message may hold several lines), masked and escaped. A
/// write error is ignored: there is nowhere left to report it.
pub fn line(args: fmt::Arguments<'_>) {
    let shown = shown(&args.to_string());
    let _ = std::io::stderr().lock().write_all(shown.as_bytes());
}

/// `text` as [`line`] writes it: every held secret masked, each line's control characters
/// escaped, and a final newline.
fn shown(text: &str) -> String {
    let masked = referrals::mask_secrets(text);
    let mut shown = String::with_capacity(masked.len() + 1);
    for (i, part) in masked.split('\n').enumerate() {
        if i > 0 {
            shown.push('\n');
        }
        shown.push_str(&referrals::query::printable(part));
    }
    shown.push('\n');
    shown
}

/// The writer of the logs (`-v`, `listen`): stderr, masked line by line.
pub fn log_writer() -> MaskingWriter<std::io::Stderr> {
    MaskingWriter::new(std::io::stderr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_secrets_are_masked_and_control_characters_escaped_line_by_line() {
        let token = referrals::Secret::new("a-held-bearer-token-8c1f");
        let text = "error: HTTP 400: echoed a-held-bearer-token-8c1f\n  hint: \x1b[2Jcleared";
        assert_eq!(
            shown(text),
            "error: HTTP 400: echoed [redacted]\n  hint: \\u{1b}[2Jcleared\n"
        );
        assert_eq!(
            shown("base URL https://ada:pw-in-url@x.example/"),
            "base URL https://ada:[redacted]@x.example/\n"
        );
        drop(token);
    }
}
