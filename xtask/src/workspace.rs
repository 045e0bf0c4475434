//! Where the workspace is: decided when a task runs, never when xtask was built. Cargo reuses one
//! xtask binary for two checkouts that share a target directory (same sources, another folder),
//! so a path compiled in would point at the other checkout, or at one since deleted.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The root of the workspace this task runs for: the parent of the `xtask` package that
/// `cargo xtask` (an alias of `cargo run --package xtask`) is running, which cargo names in
/// `CARGO_MANIFEST_DIR` at run time; without it (the binary run by hand), the workspace that
/// `cargo locate-project --workspace` finds from the current directory.
pub fn root() -> Result<PathBuf, String> {
    root_from(std::env::var_os("CARGO_MANIFEST_DIR"), locate_project)
}

fn root_from(
    manifest_dir: Option<OsString>,
    locate: impl FnOnce() -> Result<PathBuf, String>,
) -> Result<PathBuf, String> {
    let root = match manifest_dir {
        Some(dir) => Path::new(&dir)
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                format!(
                    "CARGO_MANIFEST_DIR {} has no parent",
                    Path::new(&dir).display()
                )
            })?,
        None => locate()?,
    };
    if root.join("Cargo.toml").is_file() {
        Ok(root)
    } else {
        Err(format!(
            "{} holds no Cargo.toml: not the workspace",
            root.display()
        ))
    }
}

fn locate_project() -> Result<PathBuf, String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .map_err(|e| format!("cannot run cargo locate-project: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo locate-project failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    manifest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no parent", manifest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_running_checkouts_not_the_one_xtask_was_built_in() {
        let elsewhere = std::env::temp_dir().join(format!("xtask-root-{}", std::process::id()));
        std::fs::create_dir_all(elsewhere.join("xtask")).unwrap();
        std::fs::write(elsewhere.join("Cargo.toml"), "[workspace]\n").unwrap();
        let found = root_from(Some(elsewhere.join("xtask").into_os_string()), || {
            panic!("CARGO_MANIFEST_DIR is enough")
        });
        std::fs::remove_dir_all(&elsewhere).unwrap();
        assert_eq!(found.unwrap(), elsewhere);
        assert_ne!(
            elsewhere,
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap(),
            "the test must point somewhere else than the build's checkout"
        );
    }

    #[test]
    fn without_cargo_the_workspace_is_located_and_a_wrong_folder_refused() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        assert_eq!(root_from(None, || Ok(here.clone())).unwrap(), here);
        let empty = std::env::temp_dir().join(format!("xtask-empty-{}", std::process::id()));
        std::fs::create_dir_all(empty.join("xtask")).unwrap();
        let refused = root_from(
            Some(empty.join("xtask").into_os_string()),
            || unreachable!(),
        );
        std::fs::remove_dir_all(&empty).unwrap();
        assert!(refused.unwrap_err().contains("no Cargo.toml"));
    }
}
