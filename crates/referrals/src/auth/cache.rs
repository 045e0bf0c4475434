//! The token cache: one versioned JSON file of signed-in accounts, keyed by authority, tenant
//! and client id.
//!
//! It holds refresh tokens, so it is created 0600 from the first byte (never briefly readable
//! by others), replaced atomically (a temporary file in the same directory, then a rename), and
//! refused, never silently used or overwritten, when it is corrupt, readable by other users or
//! owned by another user. Writers take an exclusive lock on `{file}.lock` around
//! read-exchange-write, so that two processes never both spend the same refresh token.
//!
//! Format (version 1):
//!
//! ```json
//! {
//!   "version": 1,
//!   "entries": [{
//!     "authority": "https://login.microsoftonline.com",
//!     "tenant": "organizations",
//!     "client_id": "00000000-0000-0000-0000-000000000000",
//!     "account": "ada@contoso.com",
//!     "tenant_id": "…",
//!     "refresh_token": "…",
//!     "superseded": ["<base64url SHA-256 of refresh tokens already exchanged>"],
//!     "access_tokens": { "https://api.partner.microsoft.com/.default": { "token": "…", "expires_at": 1800000000 } },
//!     "updated_at": 1800000000
//!   }]
//! }
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::env;
use super::error::{AuthError, CacheProblem};
use crate::Secret;

/// The format version this library reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The cache is small; anything larger is not one.
const MAX_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// How long to wait for another process's refresh before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Superseded refresh-token fingerprints kept per entry (enough to recognise a stale
/// `PARTNER_CENTER_REFRESH_TOKEN` long after it was rotated).
const SUPERSEDED_KEPT: usize = 32;

/// The default cache file: `REFERRALS_TOKEN_CACHE`, else `referrals/tokens.json` in the user's
/// config directory (`$XDG_CONFIG_HOME` or `~/.config` on Linux, the platform's equivalent
/// elsewhere). `None` when there is no config directory.
pub fn default_cache_path(lookup: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = lookup(env::TOKEN_CACHE).filter(|p| !p.trim().is_empty()) {
        return Some(PathBuf::from(path));
    }
    dirs::config_dir().map(|dir| dir.join("referrals").join("tokens.json"))
}

/// Which sign-in an entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey {
    /// The authority URL, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// The tenant signed in to (as given: an id, a domain or `organizations`).
    pub tenant: String,
    /// The application (client) id.
    pub client_id: String,
}

/// An access token kept in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAccessToken {
    /// The token.
    pub token: Secret,
    /// When it expires.
    pub expires_at: SystemTime,
}

/// One signed-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEntry {
    /// Authority, tenant and client id.
    pub key: CacheKey,
    /// Who signed in (display only).
    pub account: Option<String>,
    /// The tenant id the authority named, when known.
    pub tenant_id: Option<String>,
    /// The current refresh token.
    pub refresh_token: Secret,
    /// Fingerprints ([`fingerprint`](super::fingerprint)) of refresh tokens already exchanged.
    pub superseded: Vec<String>,
    /// Access tokens per scope.
    pub access_tokens: BTreeMap<String, CachedAccessToken>,
    /// When the entry was last written.
    pub updated_at: SystemTime,
}

impl CacheEntry {
    /// A new entry for a refresh token.
    pub fn new(key: CacheKey, refresh_token: Secret) -> Self {
        CacheEntry {
            key,
            account: None,
            tenant_id: None,
            refresh_token,
            superseded: Vec::new(),
            access_tokens: BTreeMap::new(),
            updated_at: SystemTime::now(),
        }
    }

    /// Replaces the refresh token by its successor, remembering the old one's fingerprint.
    pub fn rotate(&mut self, successor: Secret) {
        if successor == self.refresh_token {
            return;
        }
        let old = super::fingerprint(&self.refresh_token);
        if !self.superseded.contains(&old) {
            self.superseded.push(old);
        }
        let excess = self.superseded.len().saturating_sub(SUPERSEDED_KEPT);
        self.superseded.drain(..excess);
        self.refresh_token = successor;
        // Access tokens of the old grant stay valid until they expire; keeping them is fine.
    }

    /// The latest access token expiry, for status displays.
    pub fn latest_expiry(&self) -> Option<SystemTime> {
        self.access_tokens.values().map(|t| t.expires_at).max()
    }
}

/// The whole cache file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheContents {
    /// The entries, in the order written.
    pub entries: Vec<CacheEntry>,
}

impl CacheContents {
    /// The entry for `key`.
    pub fn get(&self, key: &CacheKey) -> Option<&CacheEntry> {
        self.entries.iter().find(|e| &e.key == key)
    }

    /// Inserts or replaces the entry with `entry.key`.
    pub fn put(&mut self, entry: CacheEntry) {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(slot) => *slot = entry,
            None => self.entries.push(entry),
        }
    }

    /// Removes the entry for `key`; true when there was one.
    pub fn remove(&mut self, key: &CacheKey) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| &e.key != key);
        before != self.entries.len()
    }

    /// The entries of `authority` whose tenant and client id match the given ones (`None`
    /// matches any).
    pub fn matching(
        &self,
        authority: &str,
        tenant: Option<&str>,
        client_id: Option<&str>,
    ) -> Vec<&CacheEntry> {
        self.entries
            .iter()
            .filter(|e| e.key.authority == authority)
            .filter(|e| tenant.is_none_or(|t| e.key.tenant == t))
            .filter(|e| client_id.is_none_or(|c| e.key.client_id == c))
            .collect()
    }
}

/// The cache file at a path. `Debug` shows the path only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCache {
    path: PathBuf,
}

/// An exclusive lock on the cache, held while reading, exchanging and writing.
#[derive(Debug)]
pub struct CacheLock<'a> {
    cache: &'a TokenCache,
    _file: File,
}

impl CacheLock<'_> {
    /// Reads the cache (see [`TokenCache::load`]).
    pub fn load(&self) -> Result<CacheContents, AuthError> {
        self.cache.load()
    }

    /// Replaces the cache atomically.
    pub fn store(&self, contents: &CacheContents) -> Result<(), AuthError> {
        self.cache.store(contents)
    }
}

impl TokenCache {
    /// The cache at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TokenCache { path: path.into() }
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, problem: CacheProblem) -> AuthError {
        AuthError::Cache {
            path: self.path.clone(),
            problem,
        }
    }

    /// Reads the cache; a missing file is an empty cache. A corrupt file, one readable or
    /// writable by other users, or one owned by another user is an error (and left as is).
    pub fn load(&self) -> Result<CacheContents, AuthError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CacheContents::default());
            }
            Err(e) => return Err(self.error(CacheProblem::Unreadable(e))),
        };
        let metadata = file
            .metadata()
            .map_err(|e| self.error(CacheProblem::Unreadable(e)))?;
        if !metadata.is_file() {
            return Err(self.error(CacheProblem::NotAFile));
        }
        self.check_private(&metadata)?;
        if metadata.len() > MAX_CACHE_BYTES {
            return Err(self.error(CacheProblem::TooLarge {
                bytes: metadata.len(),
            }));
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| self.error(CacheProblem::Unreadable(e)))?;
        self.parse(&bytes)
    }

    #[cfg(unix)]
    fn check_private(&self, metadata: &std::fs::Metadata) -> Result<(), AuthError> {
        use std::os::unix::fs::MetadataExt;
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(self.error(CacheProblem::Exposed { mode }));
        }
        let me = rustix::process::geteuid().as_raw();
        if metadata.uid() != me {
            return Err(self.error(CacheProblem::OwnedByAnother {
                owner: metadata.uid(),
                me,
            }));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_private(&self, _: &std::fs::Metadata) -> Result<(), AuthError> {
        Ok(())
    }

    fn parse(&self, bytes: &[u8]) -> Result<CacheContents, AuthError> {
        let wire: WireCache = serde_json::from_slice(bytes)
            .map_err(|e| self.error(CacheProblem::Corrupt { error: e }))?;
        if wire.version != FORMAT_VERSION {
            return Err(self.error(CacheProblem::Version {
                found: wire.version,
            }));
        }
        Ok(CacheContents {
            entries: wire
                .entries
                .into_iter()
                .map(WireEntry::into_entry)
                .collect(),
        })
    }

    /// Replaces the cache with `contents`: written to a 0600 temporary file in the same
    /// directory, flushed, then renamed over the old file.
    pub fn store(&self, contents: &CacheContents) -> Result<(), AuthError> {
        let wire = WireCache {
            version: FORMAT_VERSION,
            entries: contents.entries.iter().map(WireEntry::from_entry).collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&wire)
            .map_err(|e| self.error(CacheProblem::Unencodable(e)))?;
        bytes.push(b'\n');
        let dir = self.ensure_dir()?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tokens.json".into());
        let temp = dir.join(format!(
            ".{name}.{}.{:08x}.tmp",
            std::process::id(),
            fastrand::u32(..)
        ));
        let written = private_options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut file| {
                file.write_all(&bytes)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(self.error(CacheProblem::Unwritable(e)));
        }
        Ok(())
    }

    fn ensure_dir(&self) -> Result<PathBuf, AuthError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&dir)
            .map_err(|e| self.error(CacheProblem::NoDirectory(e)))?;
        Ok(dir)
    }

    /// Takes the exclusive lock (`{file}.lock`), waiting while another process holds it.
    pub async fn lock(&self) -> Result<CacheLock<'_>, AuthError> {
        self.ensure_dir()?;
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let file = private_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| self.error(CacheProblem::LockFile(e)))?;
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            // fs4's, not std's `File::try_lock` (newer than this crate's minimum Rust).
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    return Ok(CacheLock {
                        cache: self,
                        _file: file,
                    });
                }
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(self.error(CacheProblem::Unlockable(e)));
                }
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(self.error(CacheProblem::LockTimeout { waited: LOCK_WAIT }));
            }
            // Waiting for another process, which only a poll can see.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Removes the entry for `key` (under the lock); true when there was one.
    pub async fn remove(&self, key: &CacheKey) -> Result<bool, AuthError> {
        let lock = self.lock().await?;
        let mut contents = lock.load()?;
        let removed = contents.remove(key);
        if removed {
            lock.store(&contents)?;
        }
        Ok(removed)
    }

    /// Stores `entry` (under the lock), replacing the one with its key.
    pub async fn put(&self, entry: CacheEntry) -> Result<(), AuthError> {
        let lock = self.lock().await?;
        let mut contents = lock.load()?;
        contents.put(entry);
        lock.store(&contents)
    }
}

fn private_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))] // only unix has a mode to set
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[derive(Serialize, Deserialize)]
struct WireCache {
    version: u32,
    #[serde(default)]
    entries: Vec<WireEntry>,
}

#[derive(Serialize, Deserialize)]
struct WireEntry {
    authority: String,
    tenant: String,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    refresh_token: String,
    #[serde(default)]
    superseded: Vec<String>,
    #[serde(default)]
    access_tokens: BTreeMap<String, WireAccess>,
    #[serde(default)]
    updated_at: u64,
}

#[derive(Serialize, Deserialize)]
struct WireAccess {
    token: String,
    expires_at: u64,
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn from_unix(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

impl WireEntry {
    fn into_entry(self) -> CacheEntry {
        CacheEntry {
            key: CacheKey {
                authority: self.authority,
                tenant: self.tenant,
                client_id: self.client_id,
            },
            account: self.account,
            tenant_id: self.tenant_id,
            refresh_token: Secret::new(self.refresh_token),
            superseded: self.superseded,
            access_tokens: self
                .access_tokens
                .into_iter()
                .map(|(scope, a)| {
                    let token = CachedAccessToken {
                        token: Secret::new(a.token),
                        expires_at: from_unix(a.expires_at),
                    };
                    (scope, token)
                })
                .collect(),
            updated_at: from_unix(self.updated_at),
        }
    }

    fn from_entry(entry: &CacheEntry) -> Self {
        WireEntry {
            authority: entry.key.authority.clone(),
            tenant: entry.key.tenant.clone(),
            client_id: entry.key.client_id.clone(),
            account: entry.account.clone(),
            tenant_id: entry.tenant_id.clone(),
            refresh_token: entry.refresh_token.expose().to_owned(),
            superseded: entry.superseded.clone(),
            access_tokens: entry
                .access_tokens
                .iter()
                .map(|(scope, a)| {
                    let wire = WireAccess {
                        token: a.token.expose().to_owned(),
                        expires_at: unix(a.expires_at),
                    };
                    (scope.clone(), wire)
                })
                .collect(),
            updated_at: unix(entry.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(client: &str) -> CacheKey {
        CacheKey {
            authority: "https://login.example".into(),
            tenant: "organizations".into(),
            client_id: client.into(),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "referrals-cache-{name}-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn entries_round_trip_and_rotation_remembers_the_old_token() {
        let dir = temp_dir("roundtrip");
        let cache = TokenCache::new(dir.join("sub").join("tokens.json"));
        assert_eq!(cache.load().unwrap(), CacheContents::default());
        let mut entry = CacheEntry::new(key("a"), Secret::new("rt-1"));
        entry.rotate(Secret::new("rt-2"));
        entry.access_tokens.insert(
            "s".into(),
            CachedAccessToken {
                token: Secret::new("at"),
                expires_at: from_unix(1_800_000_000),
            },
        );
        entry.updated_at = from_unix(1_700_000_000);
        let mut contents = CacheContents::default();
        contents.put(entry.clone());
        contents.put(CacheEntry::new(key("b"), Secret::new("rt-b")));
        cache.store(&contents).unwrap();
        let back = cache.load().unwrap();
        assert_eq!(back.get(&key("a")), Some(&entry));
        assert_eq!(
            back.get(&key("a")).unwrap().superseded,
            vec![super::super::fingerprint(&Secret::new("rt-1"))]
        );
        assert_eq!(back.matching("https://login.example", None, None).len(), 2);
        assert_eq!(
            back.matching("https://login.example", None, Some("b"))
                .len(),
            1
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_refused_when_it_is_not() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let cache = TokenCache::new(dir.join("tokens.json"));
        cache.store(&CacheContents::default()).unwrap();
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = cache.load().unwrap_err();
        assert!(
            matches!(
                &error,
                AuthError::Cache { path, problem: CacheProblem::Exposed { mode: 0o644 } }
                    if path == cache.path()
            ),
            "{error:?}"
        );
        let error = error.to_string();
        assert!(
            error.contains("accessible to other users (mode 0644)"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_owned_by_another_user_is_refused() {
        let dir = temp_dir("owner");
        let cache = TokenCache::new(dir.join("tokens.json"));
        cache.store(&CacheContents::default()).unwrap();
        let me = rustix::process::geteuid().as_raw();
        let other = if me == 65_534 { 65_533 } else { 65_534 };
        // Only root can give a file away; as anyone else the file stays ours and is accepted.
        match std::os::unix::fs::chown(cache.path(), Some(other), None) {
            Ok(()) => {
                let error = cache.load().unwrap_err().to_string();
                assert!(error.contains("owned by another user"), "{error}");
            }
            Err(_) => assert!(cache.load().is_ok()),
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn corrupt_or_truncated_caches_are_named_and_left_alone() {
        let dir = temp_dir("corrupt");
        let cache = TokenCache::new(dir.join("tokens.json"));
        for (bytes, expected, is_corrupt) in [
            (
                &b"{\"version\":1,\"entries\":[{\"authority\""[..],
                "not a valid token cache",
                true,
            ),
            (&b"<html>"[..], "not a valid token cache", true),
            (
                &b"{\"version\":7,\"entries\":[]}"[..],
                "format version 7",
                false,
            ),
        ] {
            private_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(cache.path())
                .unwrap()
                .write_all(bytes)
                .unwrap();
            let error = cache.load().unwrap_err();
            let AuthError::Cache { problem, .. } = &error else {
                panic!("{error:?}")
            };
            if is_corrupt {
                assert!(matches!(problem, CacheProblem::Corrupt { .. }), "{error:?}");
            } else {
                assert!(
                    matches!(problem, CacheProblem::Version { found: 7 }),
                    "{error:?}"
                );
            }
            let error = error.to_string();
            assert!(error.contains(expected), "{error}");
            assert_eq!(std::fs::read(cache.path()).unwrap(), bytes, "left as is");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn superseded_fingerprints_are_bounded() {
        let mut entry = CacheEntry::new(key("a"), Secret::new("rt-0"));
        for i in 1..100 {
            entry.rotate(Secret::new(format!("rt-{i}")));
        }
        assert_eq!(entry.superseded.len(), SUPERSEDED_KEPT);
        assert_eq!(entry.refresh_token, Secret::new("rt-99"));
    }
}
