//! The cache of lowered files (`idpc build --cache DIR`, and the language server's memory):
//! a file whose text, path and kind were lowered before, by this very lowering code, is
//! neither parsed nor lowered again.
//!
//! Entries are content-addressed: the key is the sha256 of the entry format, idpc's version,
//! the fingerprint of the lowering code (see `build.rs`), the file's kind, path and text. An
//! entry holds a checksum of its key and payload; an entry that cannot be read, does not match
//! its checksum (or was stored under another key) or does not decode is ignored (and
//! rewritten), never trusted. Only files that lowered without
//! any diagnostic are stored, so a hit never hides a problem. On disk, entries no build used
//! for a month are swept away ([`DiskStore::sweep`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::lower::FilePart;
use crate::source::{FileId, FileKind, SourceFile};

/// Format of an entry; bumped when the layout changes.
pub const FORMAT: &str = "idpc-cache/3";

/// Where entries live.
pub trait Store: Sync {
    /// The entry stored under `key`, if any.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores an entry (best effort: a cache that cannot be written is only slower).
    fn put(&self, key: &str, entry: Vec<u8>);
}

/// The cache key of a file.
pub fn key(source: &SourceFile) -> String {
    let kind = match source.kind {
        FileKind::Spec => "spec",
        FileKind::BaselineDecl => "baseline",
        FileKind::BaselineTemplate => "template",
        FileKind::Compliance => "compliance",
    };
    let hasher = keying(&[FORMAT, env!("IDPC_LOWERING_FINGERPRINT"), kind, source.path.as_str(), source.text.as_str()]);
    hex(&hasher.finalize())
}

/// A sha256 fed with idpc's version and `parts`, each prefixed by its length (so no two
/// lists of parts hash alike): the start of every cache key, lowered files' and renders'.
pub fn keying(parts: &[&str]) -> Sha256 {
    let mut hasher = Sha256::new();
    for part in std::iter::once(env!("CARGO_PKG_VERSION")).chain(parts.iter().copied()) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
}

/// Stores a file's lowered model.
pub fn save(store: &dyn Store, key: &str, part: &FilePart) {
    let Ok(payload) = serde_json::to_vec(part) else { return };
    store.put(key, seal(FORMAT, key, &payload));
}

/// A file's lowered model, with its spans in `file`; `None` for a miss or a bad entry.
pub fn load(store: &dyn Store, key: &str, file: FileId) -> Option<FilePart> {
    let entry = store.get(key)?;
    let payload = unseal(FORMAT, key, &entry)?;
    file.loading(|| serde_json::from_slice(payload).ok())
}

/// An entry, as every kind of entry is framed: its format on a line, the checksum of its key
/// and payload on the next, then the payload.
pub fn seal(format: &str, key: &str, payload: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(format.len() + CHECKSUM_LENGTH + 2 + payload.len());
    entry.extend_from_slice(format!("{format}\n{}\n", checksum(key, payload)).as_bytes());
    entry.extend_from_slice(payload);
    entry
}

/// The payload of an entry [`seal`]ed in `format` under `key`; `None` when it is of another
/// format, damaged, or was stored under another key (a copied or misplaced file).
pub fn unseal<'e>(format: &str, key: &str, entry: &'e [u8]) -> Option<&'e [u8]> {
    let rest = entry.strip_prefix(format.as_bytes())?.strip_prefix(b"\n")?;
    let (checksum, payload) = (rest.get(..CHECKSUM_LENGTH)?, rest.get(CHECKSUM_LENGTH + 1..)?);
    let sound = rest.get(CHECKSUM_LENGTH) == Some(&b'\n') && checksum == self::checksum(key, payload).as_bytes();
    sound.then_some(payload)
}

/// Hex digits of a [`checksum`].
const CHECKSUM_LENGTH: usize = 32;

/// The checksum of an entry: xxh3-128 of its key and payload, in hex. It detects damage,
/// which is all a checksum without a secret can do; entries hold the whole output at scale
/// (318 MB at 2,500 APIs), where sha256 took a quarter of a warm check's CPU.
fn checksum(key: &str, payload: &[u8]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&(key.len() as u64).to_le_bytes());
    hasher.update(key.as_bytes());
    hasher.update(payload);
    format!("{:0width$x}", hasher.digest128(), width = CHECKSUM_LENGTH)
}

/// Entries as files in a folder (`--cache DIR`), two-level by key. An entry's modification
/// time says when a build last used it; [`DiskStore::sweep`] removes the ones no build used
/// for [`DiskStore::UNUSED_DAYS`] days, so that a folder a CI runner keeps forever does not
/// grow with every version of every file (nor keep what an older idpc wrote).
pub struct DiskStore {
    dir: PathBuf,
}

impl DiskStore {
    /// Days after which an entry no build used is removed.
    pub const UNUSED_DAYS: u32 = 30;
    /// The largest entry read: no entry idpc writes comes near it (a file is at most 1 MiB,
    /// a stack template 1 MB), and a larger file under a key's name is not read into memory.
    pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
    /// The file whose modification time records the last sweep.
    const SWEPT: &'static str = ".swept";

    /// A store in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> DiskStore {
        DiskStore { dir }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key.get(..2).unwrap_or("xx")).join(key)
    }

    /// Removes entries (and temporary files of killed builds) that no build used for
    /// [`DiskStore::UNUSED_DAYS`] days; at most once a day, so a build pays for the walk
    /// rarely. Only files named as this store names them are touched, whatever else the
    /// folder holds. Best effort: an entry removed under a concurrent build is a miss for it.
    pub fn sweep(&self) {
        let marker = self.dir.join(Self::SWEPT);
        if age(&marker).is_some_and(|age| age < DAY) || !self.dir.is_dir() {
            return;
        }
        let limit = DAY * Self::UNUSED_DAYS;
        let folders = std::fs::read_dir(&self.dir).into_iter().flatten().filter_map(Result::ok);
        for folder in folders {
            let prefix = folder.file_name().to_string_lossy().into_owned();
            if prefix.len() != 2 || !is_hex(&prefix) || !folder.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for entry in std::fs::read_dir(folder.path()).into_iter().flatten().filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                // An entry, `<key>`, or a temporary one, `.<key>.<pid>.tmp`.
                let key = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")).and_then(|n| n.split_once('.'));
                let key =
                    key.filter(|(_, pid)| pid.bytes().all(|b| b.is_ascii_digit())).map_or(name.as_str(), |(k, _)| k);
                let ours = key.len() == 64 && is_hex(key) && key.starts_with(&prefix);
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if ours && is_file && age(&entry.path()).is_some_and(|age| age > limit) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            // Only an emptied folder goes.
            let _ = std::fs::remove_dir(folder.path());
        }
        let _ = std::fs::write(&marker, b"");
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// Whether a name is lower-case hex, as keys are.
fn is_hex(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How long ago a file was last modified.
fn age(path: &std::path::Path) -> Option<Duration> {
    std::fs::metadata(path).ok().as_ref().and_then(age_of)
}

/// How long ago the file of some metadata was last modified.
fn age_of(metadata: &std::fs::Metadata) -> Option<Duration> {
    SystemTime::now().duration_since(metadata.modified().ok()?).ok()
}

impl Store for DiskStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut file = std::fs::File::open(self.path(key)).ok()?;
        let metadata = file.metadata().ok()?;
        if metadata.len() > Self::MAX_ENTRY_BYTES {
            return None;
        }
        // Exactly the size the metadata gives (`read_to_end` would ask for it again and probe
        // for more): an entry that changed meanwhile fails its checksum and is rendered again.
        let mut entry = vec![0; usize::try_from(metadata.len()).ok()?];
        file.read_exact(&mut entry).ok()?;
        // Mark it used, once a day at most (a build reads thousands of entries).
        if age_of(&metadata).is_some_and(|age| age > DAY) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(entry)
    }

    fn put(&self, key: &str, entry: Vec<u8>) {
        let path = self.path(key);
        let Some(folder) = path.parent() else { return };
        if std::fs::create_dir_all(folder).is_err() {
            return;
        }
        // Written aside and renamed: a reader never sees half an entry, and two builds
        // writing the same entry at once both succeed.
        let temporary = folder.join(format!(".{key}.{}.tmp", std::process::id()));
        if std::fs::write(&temporary, entry).is_ok() && std::fs::rename(&temporary, &path).is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
    }
}

/// Entries in memory (the language server): entries not used since the previous
/// [`MemoryStore::sweep`] are dropped by it, so memory follows the estate, not the edits.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Arc<Vec<u8>>>>,
    used: Mutex<BTreeSet<String>>,
}

impl MemoryStore {
    /// Drops every entry not read or written since the last sweep.
    pub fn sweep(&self) {
        let used = self.used.lock().map(|mut u| std::mem::take(&mut *u)).unwrap_or_default();
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|key, _| used.contains(key));
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn touch(&self, key: &str) {
        if let Ok(mut used) = self.used.lock() {
            used.insert(key.to_owned());
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let entry = self.entries.lock().ok()?.get(key).cloned()?;
        self.touch(key);
        Some(entry.as_ref().clone())
    }

    fn put(&self, key: &str, entry: Vec<u8>) {
        self.touch(key);
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key.to_owned(), Arc::new(entry));
        }
    }
}
