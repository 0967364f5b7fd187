//! Go-to-definition and hover, from the compiler's reference index
//! (`resolve::refs`): the reference under the cursor is looked up in the index of the estate's
//! last check, and its declaration is the span the index gives, in an estate file or in the
//! stdlib (whose files are embedded in idpc: a read-only copy is written once per stdlib
//! version, so that the editor has a file to open).

use std::path::{Path, PathBuf};

use lsp_types::{
    GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents, HoverParams, Location, MarkupContent,
    MarkupKind, Position, Url,
};

use super::{Index, Server, range};
use crate::resolve::refs::{self, Ref, RefKind};
use crate::source;
use crate::stdlib;

impl Server {
    /// The reference under the cursor, with the estate root and the index it was found in.
    fn reference_at(&mut self, uri: &Url, position: Position) -> Option<(PathBuf, Ref)> {
        let path = uri.to_file_path().ok()?;
        let root = self.root_of(&path);
        let relative = source::relative_path(&root, &path)?;
        let index = self.index(&root)?;
        let (id, file) = index.sources.iter().find(|(_, f)| f.path == relative)?;
        let offset = file.offset_utf16(position.line, position.character);
        let found = refs::at(&index.references, id, offset)?.clone();
        Some((root, found))
    }

    /// The reference index of an estate's last check (a check without rendering, when there
    /// was none yet).
    fn index(&mut self, root: &Path) -> Option<&Index> {
        if self.estates.get(root).is_none_or(|e| e.index.is_none()) {
            if !self.estates.contains_key(root) {
                self.reload(root);
            }
            let _ = self.check(root, None, false);
        }
        self.estates.get(root)?.index.as_ref()
    }

    pub(super) fn definition(&mut self, params: &GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let position = &params.text_document_position_params;
        let (root, reference) = self.reference_at(&position.text_document.uri, position.position)?;
        let declared = reference.declared?;
        let file = self.index(&root)?.sources.file(declared.file)?;
        let uri = Url::from_file_path(file_path(&root, &file.path)?).ok()?;
        Some(GotoDefinitionResponse::Scalar(Location { uri, range: range(file, declared.start, declared.end) }))
    }

    pub(super) fn hover(&mut self, params: &HoverParams) -> Option<Hover> {
        let position = &params.text_document_position_params;
        let (root, reference) = self.reference_at(&position.text_document.uri, position.position)?;
        let index = self.index(&root)?;
        let declared = reference.declared?;
        let file = index.sources.file(declared.file)?;
        let markdown = if reference.kind == RefKind::Baseline {
            let extra: Vec<(&str, &str)> = if file.path.starts_with(stdlib::PREFIX) {
                Vec::new()
            } else {
                vec![(file.path.as_str(), file.text.as_str())]
            };
            let decls = crate::baselines_with(&extra);
            let decl = decls.iter().rev().find(|d| d.name.value.as_str() == reference.name)?;
            crate::baseline_page(decl)
        } else {
            let text = file.text.get(declared.start as usize..declared.end as usize).unwrap_or("");
            let shown: Vec<&str> = text.lines().take(12).collect();
            format!(
                "{} `{}` (`{}`)\n\n```kdl\n{}\n```\n",
                reference.kind.node(),
                reference.name,
                file.path,
                shown.join("\n")
            )
        };
        let document = index.sources.file(reference.at.file)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: markdown }),
            range: Some(range(document, reference.at.start, reference.at.end)),
        })
    }
}

/// Where a file of a compilation is on disk: in the estate, or the stdlib's read-only copy.
fn file_path(root: &Path, path: &str) -> Option<PathBuf> {
    match path.strip_prefix(stdlib::PREFIX) {
        Some(relative) => stdlib_copy(path, relative),
        None => Some(root.join(path)),
    }
}

/// The stdlib file `path` written (once) under the user's cache folder, in a folder named
/// after a hash of the whole stdlib: another idpc's stdlib never shows in its place.
fn stdlib_copy(path: &str, relative: &str) -> Option<PathBuf> {
    let (_, _, text) = stdlib::FILES.iter().find(|(p, _, _)| *p == path)?;
    let mut all = Vec::new();
    for (p, _, t) in stdlib::FILES {
        all.extend_from_slice(p.as_bytes());
        all.push(0);
        all.extend_from_slice(t.as_bytes());
        all.push(0);
    }
    let version = crate::digest::sha256(&all);
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let target = base.join("idpc").join(format!("stdlib-{}", version.get(..16)?)).join(relative);
    if std::fs::read(&target).ok().as_deref() != Some(text.as_bytes()) {
        let folder = target.parent()?;
        std::fs::create_dir_all(folder).ok()?;
        // Written beside it and renamed: a reader never sees half a file.
        let partial = folder.join(format!(".{}.{}", std::process::id(), target.file_name()?.to_string_lossy()));
        std::fs::write(&partial, text).ok()?;
        let mut permissions = std::fs::metadata(&partial).ok()?.permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&partial, permissions).ok()?;
        std::fs::rename(&partial, &target).ok()?;
    }
    Some(target)
}
