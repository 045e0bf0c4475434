//! Files generated into a committed folder (`schemas/`, `docs/man/`): writing them, and
//! checking that the committed ones are what the code generates now.

use std::path::Path;

/// A committed folder of generated files.
pub struct Folder<'a> {
    /// Where it is.
    pub dir: &'a Path,
    /// How messages name it: `schemas/`, `docs/man/`.
    pub shown: &'a str,
    /// What it holds, in the plural: `schemas`, `man pages`.
    pub what: &'a str,
    /// Where they are generated from, and the task that does it: (`the model`, `schema`).
    pub from: (&'a str, &'a str),
}

impl Folder<'_> {
    /// Writes `files` (name and content), creating the folder if need be.
    pub fn write<'f>(
        &self,
        files: impl IntoIterator<Item = (&'f str, &'f [u8])>,
    ) -> Result<String, String> {
        std::fs::create_dir_all(self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let mut written = 0;
        for (name, content) in files {
            let path = self.dir.join(name);
            std::fs::write(&path, content)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written += 1;
        }
        Ok(format!("wrote {written} {} to {}", self.what, self.shown))
    }

    /// The files of `files` that are missing from the folder or differ from their content.
    pub fn stale<'f>(&self, files: impl IntoIterator<Item = (&'f str, &'f [u8])>) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, content) in files {
            match std::fs::read(self.dir.join(name)) {
                Ok(committed) if committed == content => {}
                Ok(_) => problems.push(format!("{}{name} is stale", self.shown)),
                Err(_) => problems.push(format!("{}{name} is missing", self.shown)),
            }
        }
        problems
    }

    /// Up to date when there are no `problems` among the `count` files; otherwise the problems
    /// and the command that regenerates the folder.
    pub fn verdict(&self, problems: &[String], count: usize) -> Result<String, String> {
        let (from, task) = self.from;
        if problems.is_empty() {
            Ok(format!("{count} {} are up to date", self.what))
        } else {
            Err(format!(
                "{}; {from} changed since they were generated: run `cargo xtask {task}` and commit {}",
                problems.join(", "),
                self.shown
            ))
        }
    }
}
