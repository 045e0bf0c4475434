//! Text on the page: escaped, and numbers written for people.

/// `text` safe in HTML and SVG text and in quoted attribute values: `&`, `<`, `>`, `"` and `'`
/// escaped, and control characters (which no page should show, and some parsers reject)
/// replaced by spaces.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `1234567` → `1,234,567`.
pub(crate) fn number(n: u64) -> String {
    group(&n.to_string())
}

/// A sum of money to the cent, grouped: `1234567.5` → `1,234,567.50`; whole sums without
/// cents (`1,000`).
pub(crate) fn money(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{:.2}", value.abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if value < 0.0 && text != "0.00" {
        "-"
    } else {
        ""
    };
    if cents == "00" {
        format!("{sign}{}", group(whole))
    } else {
        format!("{sign}{}.{cents}", group(whole))
    }
}

/// Digits grouped by three with commas.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_controls_are_neutralised() {
        assert_eq!(
            escape("<a href=\"x\">O'Brien & Co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; Co&lt;/a&gt;"
        );
        assert_eq!(escape("bell\u{7}\u{1b}[31m"), "bell  [31m");
        assert_eq!(escape("株式会社 🚀"), "株式会社 🚀");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(1_234_567), "1,234,567");
        assert_eq!(money(1_234_567.5), "1,234,567.50");
        assert_eq!(money(1000.0), "1,000");
        assert_eq!(money(0.004), "0");
        assert_eq!(money(-2500.25), "-2,500.25");
        assert_eq!(money(f64::INFINITY), "inf");
    }
}
