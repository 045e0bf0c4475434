//! The command line that continues an interrupted listing, printed on stderr.

use std::ffi::OsString;

use referrals::Checkpoint;

use crate::cli::Format;
use crate::settings::Settings;

/// How far a listing was asked to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// The first page only.
    FirstPage,
    /// Up to this many items.
    MaxItems(u64),
    /// Every page.
    All,
}

/// What a resumed run must repeat of this one: everything but the query, which is in the
/// checkpoint.
#[derive(Debug)]
pub struct ResumeCommand<'a> {
    /// The program as it was invoked (`referrals`, `target/release/referrals`...).
    pub program: OsString,
    /// The settings of this run.
    pub settings: &'a Settings,
    /// The paging of this run.
    pub paging: Paging,
    /// The format written.
    pub format: Format,
    /// The `--concurrency` given, if any.
    pub concurrency: Option<u32>,
}

impl ResumeCommand<'_> {
    /// The full command line that continues from `checkpoint`, `written` items having been
    /// written by this run. The token is never included: the command says where it goes.
    pub fn render(&self, checkpoint: &Checkpoint, written: u64) -> String {
        let mut words = vec![quote(&self.program.to_string_lossy()), "list".into()];
        let settings = self.settings;
        if settings.demo {
            words.push("--demo".into());
        } else {
            if let Some(url) = &settings.base_url.value {
                words.push("--base-url".into());
                words.push(quote(url));
            }
            if settings.token.is_some() {
                words.push("--token".into());
                words.push("<TOKEN>".into());
            }
        }
        if let Some(retries) = settings.retries {
            words.push(format!("--retries {retries}"));
        }
        if let Some(timeout) = settings.timeout {
            words.push(format!("--timeout {}", timeout.as_secs_f64()));
        }
        match self.paging {
            Paging::FirstPage => {}
            Paging::All => words.push("--all".into()),
            Paging::MaxItems(max) => {
                words.push(format!(
                    "--max-items {}",
                    max.saturating_sub(written).max(1)
                ));
            }
        }
        if let Some(concurrency) = self.concurrency {
            words.push(format!("--concurrency {concurrency}"));
        }
        words.push(format!("--format {}", self.format.name()));
        if matches!(self.format, Format::Csv | Format::Table) {
            // The rows continue the output already written, which has its header.
            words.push("--no-header".into());
        }
        words.push(format!("--resume {}", quote(&checkpoint.to_string())));
        words.join(" ")
    }
}

/// `word` as one POSIX shell word.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=%@+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use referrals::ListQuery;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(
            quote("rq1.s.0.0.0.pageSize%3D10"),
            "rq1.s.0.0.0.pageSize%3D10"
        );
        assert_eq!(quote("https://x.test:8443/api"), "https://x.test:8443/api");
        assert_eq!(quote("it's here"), r"'it'\''s here'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn the_command_repeats_the_options_but_never_the_token() {
        let settings = crate::settings::for_test(&[
            "list",
            "--token",
            "s3cret-value",
            "--base-url",
            "http://127.0.0.1:9",
            "--retries",
            "0",
            "--page-size",
            "10",
            "--max-items",
            "25",
        ]);
        let command = ResumeCommand {
            program: "referrals".into(),
            settings: &settings,
            paging: Paging::MaxItems(25),
            format: Format::Csv,
            concurrency: None,
        };
        let checkpoint = Checkpoint::start(&ListQuery::new().page_size(10).unwrap());
        let line = command.render(&checkpoint, 20);
        assert_eq!(
            line,
            "referrals list --base-url http://127.0.0.1:9 --token <TOKEN> --retries 0 \
             --max-items 5 --format csv --no-header --resume rq1.s.0.0.0.pageSize%3D10"
        );
        assert!(!line.contains("s3cret"));
    }
}
