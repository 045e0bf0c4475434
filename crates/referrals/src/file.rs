//! Reading a file the program is given (a token cache, and in the CLI a request body or the
//! config file): a regular file only, whole, up to a size limit. A FIFO, a device or a
//! directory is refused without blocking (on Unix the file is opened with `O_NONBLOCK`, and the
//! opened file's own metadata decides, so a path swapped after a check is still caught), and a
//! file larger than its limit is refused without being read past it.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read. Its `Display` says what is wrong and the limit, not which file:
/// the caller names it (and the option it came from).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadFileError {
    /// It cannot be opened or read (missing, no permission, an I/O error).
    #[error("cannot be read: {0}")]
    Io(#[source] io::Error),
    /// It is not a regular file.
    #[error("is a {kind}, not a regular file")]
    NotRegular {
        /// What it is: `directory`, `FIFO`, `socket`, `character device`, `block device`.
        kind: &'static str,
    },
    /// It is larger than the limit.
    #[error("is larger than {}, the limit for this file", Size(*limit))]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

impl ReadFileError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadFileError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// `16 MiB`, `1 KiB`, `1000 bytes`: a size as a message shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1024 * 1024;
        match self.0 {
            bytes if bytes >= MIB && bytes % MIB == 0 => write!(f, "{} MiB", bytes / MIB),
            bytes if bytes >= 1024 && bytes % 1024 == 0 => write!(f, "{} KiB", bytes / 1024),
            1 => f.write_str("1 byte"),
            bytes => write!(f, "{bytes} bytes"),
        }
    }
}

/// The whole of the regular file at `path`, at most `limit` bytes.
///
/// ```
/// use referrals::file::{ReadFileError, read_regular_file};
///
/// let dir = std::env::temp_dir().join(format!("referrals-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("small.json");
/// std::fs::write(&path, b"{}")?;
/// assert_eq!(read_regular_file(&path, 16)?, b"{}");
/// let error = read_regular_file(&path, 1).unwrap_err();
/// assert_eq!(error.to_string(), "is larger than 1 byte, the limit for this file");
/// assert!(matches!(read_regular_file(&dir, 16), Err(ReadFileError::NotRegular { kind: "directory" })));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFileError> {
    let (file, metadata) = open_regular_file(path)?;
    if metadata.len() > limit {
        return Err(ReadFileError::TooLarge { limit });
    }
    read_limited(file, limit)
}

/// Opens `path` for reading without blocking, and checks that what was opened is a regular
/// file. Returns it with its metadata (for further checks, such as its permissions).
pub fn open_regular_file(path: &Path) -> Result<(File, Metadata), ReadFileError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading waits for a writer; non-blocking, it returns at once (and
        // is refused below). A regular file reads the same either way.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).map_err(ReadFileError::Io)?;
    let metadata = file.metadata().map_err(ReadFileError::Io)?;
    if !metadata.is_file() {
        return Err(ReadFileError::NotRegular {
            kind: kind(&metadata),
        });
    }
    Ok((file, metadata))
}

/// Everything `reader` gives, refused as soon as it passes `limit` bytes (a file that grows
/// while it is read, a pipe on stdin).
pub fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadFileError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadFileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFileError::TooLarge { limit });
    }
    Ok(bytes)
}

/// What a file that is not a regular one is.
fn kind(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
    }
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_said_in_the_largest_whole_unit() {
        assert_eq!(Size(16 * 1024 * 1024).to_string(), "16 MiB");
        assert_eq!(Size(1024 * 1024).to_string(), "1 MiB");
        assert_eq!(Size(4096).to_string(), "4 KiB");
        assert_eq!(Size(1000).to_string(), "1000 bytes");
        assert_eq!(Size(1).to_string(), "1 byte");
    }

    #[test]
    fn a_reader_is_cut_one_byte_past_the_limit() {
        assert_eq!(read_limited(&b"abc"[..], 3).unwrap(), b"abc");
        let endless = std::io::repeat(b'x');
        assert!(matches!(
            read_limited(endless, 10),
            Err(ReadFileError::TooLarge { limit: 10 })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let error = read_regular_file(&fifo, 10).unwrap_err();
        assert!(
            matches!(error, ReadFileError::NotRegular { kind: "FIFO" }),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "is a FIFO, not a regular file");
        assert!(
            read_regular_file(&dir.path().join("missing"), 10)
                .unwrap_err()
                .is_not_found()
        );
    }
}
