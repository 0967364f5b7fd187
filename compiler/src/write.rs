//! The only writer: puts a rendered output on disk as a whole, or not at all.
//!
//! Files are written into a fresh temporary folder beside OUT; then the temporary folder and
//! OUT are swapped in one atomic `renameat2(RENAME_EXCHANGE)` (or renamed into place when OUT
//! does not exist yet), and the old tree is removed. A reader, or a process killed at any
//! moment, sees either the old tree or the new one, never a mix, and no stale file survives.
//! OUT is only ever replaced when it is empty or holds an idpc `manifest.json`, so a mistyped
//! `-o` cannot wipe an unrelated folder. A build locks OUT's parent folder while it stages, so
//! that another build beside it waits rather than taking its staging folder for a killed
//! build's leftovers and removing it.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::emit::{Output, manifest};

/// Why the output could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// OUT exists and does not look like an idpc output folder.
    NotOurs(PathBuf),
    /// OUT is a file (or a device, a socket...), not a folder.
    NotAFolder(PathBuf),
    /// OUT is a symbolic link: the swap would replace the link, not the folder it names.
    Link(PathBuf),
    /// A file system operation failed.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::NotOurs(p) => write!(
                f,
                "refusing to replace `{}`: it is not empty and holds no idpc manifest.json (choose another -o)",
                p.display()
            ),
            WriteError::NotAFolder(p) => {
                write!(
                    f,
                    "refusing to replace `{}`: it is a file, not an output folder (choose another -o)",
                    p.display()
                )
            }
            WriteError::Link(p) => write!(
                f,
                "refusing to replace `{}`: it is a symbolic link, and idpc swaps OUT by renaming, which would replace the link and not the folder it points to (give that folder's own path as -o)",
                p.display()
            ),
            WriteError::Io(p, e) => write!(f, "cannot write `{}`: {e}", p.display()),
        }
    }
}

/// Replaces `out` with exactly the files of `output` (which must hold its bytes).
pub fn write_output(out: &Path, output: &Output) -> Result<(), WriteError> {
    check_replaceable(out)?;
    let staging = Staging::begin(out, &|| {})?;
    let files: Vec<(&str, &[u8])> = output.artifacts.iter().map(|a| (a.path.as_str(), a.bytes.as_slice())).collect();
    files.par_iter().try_for_each(|(path, bytes)| staging.write(path, bytes))?;
    staging.commit(&output.manifest)
}

/// A new output tree being written beside OUT. Files may be written from several threads;
/// [`Staging::commit`] swaps the tree in; dropping it without a commit removes it.
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    /// Folders known to exist (relative to `dir`), so that each is created once.
    folders: Mutex<HashSet<String>>,
    /// An exclusive lock on OUT's parent folder, held until the staging folder is gone: builds
    /// writing beside each other take turns, so that none removes another's staging folder as
    /// one a killed build left. (Declared last: released after `drop` has removed the tree.)
    _lock: Option<fs::File>,
}

impl Staging {
    /// Creates the staging folder for `out` (and removes ones that killed builds left). When
    /// another build is writing beside OUT, calls `waiting` and waits for it to finish.
    pub fn begin(out: &Path, waiting: &dyn Fn()) -> Result<Staging, WriteError> {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Refused before anything is compiled (and checked again at the swap, under the lock).
        check_replaceable(out)?;
        fs::create_dir_all(&parent).map_err(|e| WriteError::Io(parent.clone(), e))?;
        let lock = lock(&parent, waiting)?;
        let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        remove_stale(&parent, &name);
        let dir = parent.join(format!(".{name}.idpc-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| WriteError::Io(dir.clone(), e))?;
        }
        fs::create_dir(&dir).map_err(|e| WriteError::Io(dir.clone(), e))?;
        Ok(Staging { out: out.to_path_buf(), folders: Mutex::new(HashSet::new()), dir, _lock: lock })
    }

    /// Writes one file of the new tree.
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<(), WriteError> {
        if !safe_relative(path) {
            let error = io::Error::new(io::ErrorKind::InvalidInput, "artifact path leaves the output folder");
            return Err(WriteError::Io(self.dir.join(path), error));
        }
        if let Some((folder, _)) = path.rsplit_once('/') {
            self.make_folder(folder)?;
        }
        let target = self.dir.join(path);
        fs::write(&target, bytes).map_err(|e| WriteError::Io(target.clone(), e))
    }

    /// Creates a folder of the new tree (`a/b/c`, relative to it) and the parents it lacks, one
    /// `mkdir` each, from the outermost; each is remembered, so that no folder is created (or
    /// probed) twice.
    fn make_folder(&self, folder: &str) -> Result<(), WriteError> {
        let ancestors = std::iter::successors(Some(folder), |f| f.rsplit_once('/').map(|(parent, _)| parent));
        let missing: Vec<&str> = match self.folders.lock() {
            Ok(folders) => ancestors.take_while(|f| !folders.contains(*f)).collect(),
            Err(_) => ancestors.collect(),
        };
        for made in missing.into_iter().rev() {
            let target = self.dir.join(made);
            match fs::create_dir(&target) {
                // Another thread may have made it in the meantime.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                // Its parent exists (made before it): the staging tree was removed under this
                // build, which must fail rather than recreate part of it.
                Err(e) => return Err(WriteError::Io(target, e)),
                Ok(()) => {}
            }
            if let Ok(mut folders) = self.folders.lock() {
                folders.insert(made.to_owned());
            }
        }
        Ok(())
    }

    /// Writes the manifest and swaps the new tree in for OUT, which must be empty or an
    /// earlier idpc output.
    pub fn commit(self, manifest_bytes: &[u8]) -> Result<(), WriteError> {
        check_replaceable(&self.out)?;
        self.write(manifest::PATH, manifest_bytes)?;
        swap(&self.dir, &self.out)
        // Dropping `self` removes the old tree, now at the staging path.
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.dir.exists() {
            // Either the old tree (after a swap) or a half-written new one: both go.
            remove_tree(&self.dir);
        }
    }
}

/// Takes an exclusive lock on `parent` (the folder OUT is in), first without waiting, then,
/// after calling `waiting`, until the other build is done. `None` where the folder cannot be
/// locked: builds there must not run beside each other.
fn lock(parent: &Path, waiting: &dyn Fn()) -> Result<Option<fs::File>, WriteError> {
    // A folder that cannot be opened for reading (write and search rights only) cannot be
    // locked either: build there as before locks.
    let Ok(folder) = fs::File::open(parent) else { return Ok(None) };
    match folder.try_lock() {
        Ok(()) => return Ok(Some(folder)),
        Err(fs::TryLockError::WouldBlock) => {}
        // No locks on this file system (or none left): build as before locks, unguarded.
        Err(fs::TryLockError::Error(_)) => return Ok(None),
    }
    waiting();
    folder.lock().map_err(|e| WriteError::Io(parent.to_path_buf(), e))?;
    Ok(Some(folder))
}

/// Removes a folder and everything in it, its entries in parallel (a rebuild removes a tree
/// as large as the one it wrote: one thread took as long as the writing). Best effort, like
/// `remove_dir_all`, which finishes whatever is left.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        let entries: Vec<fs::DirEntry> = entries.filter_map(Result::ok).collect();
        entries.par_iter().for_each(|entry| {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            } else {
                let _ = fs::remove_file(entry.path());
            }
        });
    }
    if fs::remove_dir(dir).is_err() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Removes staging folders that a killed build left beside OUT (`.<name>.idpc-<pid>`).
fn remove_stale(parent: &Path, name: &str) {
    let prefix = format!(".{name}.idpc-");
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let stale = file_name.to_str().is_some_and(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|rest| rest.trim_end_matches(".old").bytes().all(|b| b.is_ascii_digit()))
        });
        if stale && entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path());
        }
    }
}

fn check_replaceable(out: &Path) -> Result<(), WriteError> {
    let Ok(meta) = fs::symlink_metadata(out) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Err(WriteError::Link(out.to_path_buf()));
    }
    if !meta.is_dir() {
        return Err(WriteError::NotAFolder(out.to_path_buf()));
    }
    let mut entries = fs::read_dir(out).map_err(|e| WriteError::Io(out.to_path_buf(), e))?;
    let empty = entries.next().is_none();
    let ours = fs::read(out.join(manifest::PATH))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|m| m.get("format").and_then(|f| f.as_str()).is_some_and(|f| f.starts_with("idpc-manifest/")));
    if empty || ours { Ok(()) } else { Err(WriteError::NotOurs(out.to_path_buf())) }
}

/// Whether an artifact path stays inside OUT: relative, `/`-separated, made of plain names.
/// Names are validated long before, so this only guards against a bug in an emitter.
pub fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

fn swap(staging: &Path, out: &Path) -> Result<(), WriteError> {
    if fs::symlink_metadata(out).is_err() {
        return fs::rename(staging, out).map_err(|e| WriteError::Io(out.to_path_buf(), e));
    }
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, staging, cwd, out, rustix::fs::RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(_) => {
            // The file system cannot exchange: move the old tree aside, then the new one in.
            let aside = PathBuf::from(format!("{}.old", staging.display()));
            fs::rename(out, &aside).map_err(|e| WriteError::Io(out.to_path_buf(), e))?;
            fs::rename(staging, out).map_err(|e| WriteError::Io(out.to_path_buf(), e))?;
            fs::remove_dir_all(&aside).map_err(|e| WriteError::Io(aside, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{remove_tree, safe_relative};

    #[cfg(unix)]
    #[test]
    fn removing_a_tree_never_follows_symlinks() {
        // A rebuild removes the previous output; a link someone put in it must go, never what
        // it points to.
        let root = tempfile::tempdir().unwrap();
        let (tree, outside) = (root.path().join("out"), root.path().join("outside"));
        std::fs::create_dir_all(tree.join("apis/a/prod/monitors")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep.json"), "{}").unwrap();
        std::fs::write(tree.join("apis/a/prod/monitors/latency.json"), "{}").unwrap();
        std::fs::write(tree.join("manifest.json"), "{}").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("apis/link-to-dir")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep.json"), tree.join("link-to-file.json")).unwrap();
        remove_tree(&tree);
        assert!(!tree.exists());
        assert_eq!(std::fs::read_to_string(outside.join("keep.json")).unwrap(), "{}");
    }

    #[test]
    fn artifact_paths_stay_inside_out() {
        assert!(safe_relative("stacks/idpc-api-a--b.json"));
        assert!(safe_relative("manifest.json"));
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a\\b", "a/./b", "a\0b", "C:x", "a b"] {
            assert!(!safe_relative(bad), "{bad:?}");
        }
    }
}
