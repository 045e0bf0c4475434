//! The page in a real browser: headless Chromium loads the report of a known mirror, shows no
//! console message (a page without script has none unless something is wrong: a blocked
//! resource, a policy violation), shows the mirror's totals, and takes screenshots, kept under
//! the target directory as test artifacts.
//!
//! Without Chromium the test says it skipped, unless `REFERRALS_REQUIRE_BROWSER=1` (CI sets
//! it), then it fails. `REFERRALS_CHROMIUM` names the browser's binary when it is not
//! `chromium` on the `PATH`.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use referrals_report::{DEFAULT_WITHIN, Report};
use referrals_sync::Mirror;

use crate::support::{
    known_referrals, mirror_of, now, recent_synthetic, sql_status_counts, temp_dir,
};

/// How long one Chromium run may take before the test gives up on it (it takes about two
/// seconds here; the machine may be busy).
const DEADLINE: Duration = Duration::from_secs(180);

/// The browser: `REFERRALS_CHROMIUM`, else the first of the usual names on the `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("REFERRALS_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// What one headless run printed.
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    /// The console messages of the page (Chromium logs them as `CONSOLE` lines with
    /// `--enable-logging=stderr`).
    fn console(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.contains(":CONSOLE"))
            .collect()
    }
}

/// Runs headless Chromium on `page` with `extra` arguments; its output goes to files (a full
/// pipe would block it), and a run past [`DEADLINE`] is killed and fails the test.
fn headless(browser: &Path, dir: &Path, page: &Path, extra: &[String]) -> Run {
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile-")
        .tempdir_in(dir)
        .unwrap();
    let stdout_path = dir.join("chromium.stdout");
    let stderr_path = dir.join("chromium.stderr");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within {DEADLINE:?}", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        stdout: std::fs::read_to_string(&stdout_path).unwrap(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap(),
    };
    assert!(status.success(), "{status}: {}", run.stderr);
    run
}

/// Where the screenshots are kept: the target directory's, which CI keeps as artifacts.
fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("referrals-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn the_report_renders_in_headless_chromium_with_the_mirror_s_totals_and_no_console_error() {
    let Some(browser) = chromium() else {
        let required = std::env::var("REFERRALS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "REFERRALS_REQUIRE_BROWSER=1 but no Chromium was found (install the chromium \
             package, or set REFERRALS_CHROMIUM)"
        );
        eprintln!(
            "skipped: no Chromium on the PATH (REFERRALS_REQUIRE_BROWSER=1 makes this a failure)"
        );
        return;
    };
    let dir = temp_dir("browser");
    let mut referrals = recent_synthetic(250, 84);
    referrals.extend(known_referrals());
    let db = mirror_of(dir.path(), "pipeline.db", &referrals, &["gone"]);
    let mirror = Mirror::open_to_read(&db).unwrap();
    let report = Report::from_mirror(&mirror, now(), DEFAULT_WITHIN).unwrap();
    let page = dir.path().join("report.html");
    report.write_html(&page).unwrap();
    // The page itself is kept too, beside its screenshots (synthetic data only).
    report.write_html(&artifact("report.html")).unwrap();

    // The capture of console messages works: a page whose inline script the policy blocks
    // shows one.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'\"></head><body><script>1</script></body></html>",
    )
    .unwrap();
    let control_run = headless(&browser, dir.path(), &control, &["--dump-dom".into()]);
    assert!(
        !control_run.console().is_empty(),
        "the blocked script of the control page was not reported: {}",
        control_run.stderr
    );

    let run = headless(&browser, dir.path(), &page, &["--dump-dom".into()]);
    assert!(
        run.console().is_empty(),
        "console messages: {:#?}",
        run.console()
    );
    let dom = run.stdout;
    let counts = sql_status_counts(&db);
    let total: u64 = counts.values().sum();
    assert_eq!(total, 256);
    assert!(
        dom.contains(&format!(
            "<dd id=\"total\" data-count=\"{total}\">{total}</dd>"
        )),
        "the total {total} is not on the page"
    );
    for (status, count) in &counts {
        let shown = format!("data-status=\"{status}\" data-count=\"{count}\"");
        assert!(dom.contains(&shown), "{shown} is not on the page");
    }
    let due = report.due.due.len();
    assert!(due > 0);
    assert!(dom.contains(&format!("<span id=\"due-count\" data-count=\"{due}\">")));
    assert_eq!(dom.matches("<svg").count(), 4, "four charts");
    assert!(dom.contains("Contoso &lt;b&gt;bold&lt;/b&gt; &amp; Co"));

    for (name, size) in [
        ("report.png", "--window-size=1000,2400"),
        ("report-narrow.png", "--window-size=390,2400"),
    ] {
        let screenshot = artifact(name);
        let _ = std::fs::remove_file(&screenshot);
        let run = headless(
            &browser,
            dir.path(),
            &page,
            &[
                format!("--screenshot={}", screenshot.display()),
                size.into(),
            ],
        );
        assert!(run.console().is_empty(), "{:#?}", run.console());
        let png = std::fs::read(&screenshot).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        println!("screenshot: {}", screenshot.display());
    }
}
