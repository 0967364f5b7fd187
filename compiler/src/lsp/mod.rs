//! `idpc lsp`: a language server on stdio for editors.
//!
//! On open, change and save of a `.kdl` file it finds the estate the file belongs to (the
//! nearest folder above it, within the workspace, whose files declare the `platform`),
//! compiles the whole estate with the open documents' unsaved text, and publishes the
//! diagnostics of every file of the estate, with exact ranges (UTF-16 columns, as LSP
//! counts); a file whose problems are fixed gets an empty list. It also answers
//! go-to-definition from a reference (`tenant=`, `account=`, `deploy`, `uses`, `baseline`,
//! `requires`) to the node it names, and hover on a reference (a baseline's parameters, or
//! the named node's declaration).
//!
//! Each estate's files are held in memory: an edit re-checks with the edited text and never
//! re-reads the other files; saving, closing, or a change the editor reports from disk
//! (`workspace/didChangeWatchedFiles`) re-reads the estate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::{
    CodeDescription, Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity,
    DidChangeTextDocumentParams, DidChangeWatchedFilesParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams, GotoDefinitionParams, HoverParams, HoverProviderCapability, InitializeParams, Location,
    NumberOrString, OneOf, Position, PublishDiagnosticsParams, Range, SaveOptions, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Url,
};
use serde_json::Value;

use crate::cache::MemoryStore;
use crate::diagnostics::{Diagnostic, Label, Severity, machine};
use crate::model::Date;
use crate::source::{self, RawFile, SourceFile, SourceSet};
use crate::{Hooks, Options, compile_with};

mod edit;
mod navigate;

use edit::Edit;

/// Runs the server on stdin and stdout until the editor says `exit`.
pub fn serve_stdio() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let result = serve(&connection);
    drop(connection);
    io_threads.join().map_err(|e| e.to_string())?;
    result
}

/// Runs the server on a connection (stdio, or in memory in tests).
pub fn serve(connection: &Connection) -> Result<(), String> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::FULL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
            ..TextDocumentSyncOptions::default()
        })),
        definition_provider: Some(OneOf::Left(true)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    };
    let capabilities = serde_json::to_value(capabilities).map_err(|e| e.to_string())?;
    let params = connection.initialize(capabilities).map_err(|e| e.to_string())?;
    let params: InitializeParams = serde_json::from_value(params).map_err(|e| e.to_string())?;
    let mut server = Server::new(&params);
    // Files changed outside the editor (a checkout, a generator) re-check their estate, when
    // the client can watch files for us.
    let watch = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|w| w.dynamic_registration)
        .unwrap_or(false);
    if watch {
        let watchers: Vec<Value> =
            ["**/*.kdl", "**/*.json.hbs"].iter().map(|glob| serde_json::json!({ "globPattern": glob })).collect();
        let registration = serde_json::json!({ "registrations": [{
            "id": "idpc-watch",
            "method": "workspace/didChangeWatchedFiles",
            "registerOptions": { "watchers": watchers },
        }]});
        let request = Request::new(
            lsp_server::RequestId::from("idpc-watch".to_owned()),
            "client/registerCapability".to_owned(),
            registration,
        );
        connection.sender.send(Message::Request(request)).map_err(|e| e.to_string())?;
    }
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                // A bug in a lookup answers this request with an error; the server goes on.
                let id = request.id.clone();
                let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.request(request)))
                    .unwrap_or_else(|_| {
                        Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            "idpc failed on this request (a bug in idpc; see the server's log)".to_owned(),
                        )
                    });
                connection.sender.send(Message::Response(response)).map_err(|e| e.to_string())?;
            }
            Message::Notification(notification) => {
                if notification.method == "exit" {
                    return Ok(());
                }
                for published in server.notification(notification) {
                    let notification =
                        Notification::new(lsp_types::notification::PublishDiagnostics::METHOD.to_owned(), published);
                    connection.sender.send(Message::Notification(notification)).map_err(|e| e.to_string())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// One estate's files as last read from disk, and what was published for it.
#[derive(Default)]
struct Estate {
    /// Estate-relative path to bytes.
    disk: BTreeMap<String, Vec<u8>>,
    /// Documents that got diagnostics at the last check.
    published: BTreeSet<Url>,
    /// Lowered files by content: an edit parses and lowers only the edited file.
    cache: MemoryStore,
    /// What the last full check's rendering found (kept while only edits are checked, moved with
    /// the text they point at).
    rendering: Vec<(Url, LspDiagnostic)>,
    /// The sources and reference index of the last check, for definition and hover.
    index: Option<Index>,
}

/// What navigation needs of a check: its files and its reference index.
struct Index {
    sources: SourceSet,
    references: Vec<crate::resolve::refs::Ref>,
}

struct Server {
    /// Workspace folders: an estate root is never searched above them.
    workspace: Vec<PathBuf>,
    /// Open documents' text, by absolute path.
    open: BTreeMap<PathBuf, String>,
    /// Estates by root folder.
    estates: BTreeMap<PathBuf, Estate>,
    /// Estate root of each folder seen.
    roots: BTreeMap<PathBuf, PathBuf>,
    /// Pinned "today", from `initializationOptions.today` or `IDPC_TODAY`.
    today: Option<Date>,
    /// Base URL of the explain pages (`IDPC_EXPLAIN_URL`).
    explain: String,
}

impl Server {
    fn new(params: &InitializeParams) -> Server {
        let mut workspace: Vec<PathBuf> =
            params.workspace_folders.iter().flatten().filter_map(|f| f.uri.to_file_path().ok()).collect();
        #[allow(deprecated)] // Older clients send only `rootUri`.
        if workspace.is_empty()
            && let Some(root) = params.root_uri.as_ref().and_then(|u| u.to_file_path().ok())
        {
            workspace.push(root);
        }
        let option = params.initialization_options.as_ref().and_then(|o| o["today"].as_str().map(str::to_owned));
        let today = option.or_else(|| std::env::var("IDPC_TODAY").ok()).and_then(|t| Date::parse(&t));
        let explain = machine::explain_base(std::env::var("IDPC_EXPLAIN_URL").ok().as_deref());
        Server { workspace, open: BTreeMap::new(), estates: BTreeMap::new(), roots: BTreeMap::new(), today, explain }
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            "textDocument/definition" => serde_json::from_value::<GotoDefinitionParams>(request.params)
                .map(|p| serde_json::to_value(self.definition(&p)).unwrap_or(Value::Null)),
            "textDocument/hover" => serde_json::from_value::<HoverParams>(request.params)
                .map(|p| serde_json::to_value(self.hover(&p)).unwrap_or(Value::Null)),
            other => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("idpc does not handle `{other}`"),
                );
            }
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(error) => Response::new_err(id, ErrorCode::InvalidParams as i32, error.to_string()),
        }
    }

    /// Handles a notification; returns the diagnostics to publish.
    fn notification(&mut self, notification: Notification) -> Vec<PublishDiagnosticsParams> {
        let params = notification.params;
        // (file, re-read the estate from disk, full check with rendering)
        let touched: Option<(PathBuf, bool, bool)> = match notification.method.as_str() {
            "textDocument/didOpen" => serde_json::from_value::<DidOpenTextDocumentParams>(params).ok().and_then(|p| {
                let path = p.text_document.uri.to_file_path().ok()?;
                self.open.insert(path.clone(), p.text_document.text);
                Some((path, false, true))
            }),
            "textDocument/didChange" => {
                serde_json::from_value::<DidChangeTextDocumentParams>(params).ok().and_then(|mut p| {
                    let path = p.text_document.uri.to_file_path().ok()?;
                    // Full synchronisation: the last change holds the whole text.
                    let text = p.content_changes.pop()?.text;
                    self.follow_edit(&path, &p.text_document.uri, &text);
                    self.open.insert(path.clone(), text);
                    Some((path, false, false))
                })
            }
            "textDocument/didSave" => serde_json::from_value::<DidSaveTextDocumentParams>(params)
                .ok()
                .and_then(|p| Some((p.text_document.uri.to_file_path().ok()?, true, true))),
            "textDocument/didClose" => {
                serde_json::from_value::<DidCloseTextDocumentParams>(params).ok().and_then(|p| {
                    let path = p.text_document.uri.to_file_path().ok()?;
                    self.open.remove(&path);
                    Some((path, true, true))
                })
            }
            "workspace/didChangeWatchedFiles" => {
                let Ok(p) = serde_json::from_value::<DidChangeWatchedFilesParams>(params) else {
                    return Vec::new();
                };
                let mut published = Vec::new();
                let roots: BTreeSet<PathBuf> = p
                    .changes
                    .iter()
                    .filter_map(|c| c.uri.to_file_path().ok())
                    .filter_map(|path| self.estates.keys().find(|root| path.starts_with(root)).cloned())
                    .collect();
                for root in roots {
                    self.reload(&root);
                    published.extend(self.check(&root, None, true));
                }
                return published;
            }
            _ => None,
        };
        let Some((path, reload, full)) = touched else {
            return Vec::new();
        };
        if path.extension().is_none_or(|e| e != "kdl") {
            return Vec::new();
        }
        let root = self.root_of(&path);
        if reload || !self.estates.contains_key(&root) {
            self.reload(&root);
        }
        self.check(&root, Some(&path), full)
    }

    /// The estate root of a file: the nearest folder above it (not above its workspace
    /// folder) whose `.kdl` files declare the `platform`; else the file's own folder.
    fn root_of(&mut self, path: &Path) -> PathBuf {
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(root) = self.roots.get(&folder) {
            return root.clone();
        }
        let limit = self.workspace.iter().filter(|w| path.starts_with(w)).max_by_key(|w| w.components().count());
        let within = |candidate: &Path| limit.is_none_or(|l| candidate.starts_with(l));
        // The usual layout first: the platform in a file directly in the estate folder; then
        // anywhere below a folder, but only inside the workspace.
        let direct = folder.ancestors().take_while(|c| within(c)).find(|c| declares_platform(c, &self.open, 1));
        let nested = || {
            limit.and_then(|_| {
                folder.ancestors().take_while(|c| within(c)).find(|c| declares_platform(c, &self.open, 8))
            })
        };
        let root = direct.or_else(nested).unwrap_or(&folder).to_path_buf();
        self.roots.insert(folder, root.clone());
        root
    }

    /// Reads an estate's files from disk again.
    fn reload(&mut self, root: &Path) {
        let disk = match source::load_estate(root) {
            Ok(files) => files.into_iter().map(|f| (f.path, f.bytes)).collect(),
            Err(_) => BTreeMap::new(),
        };
        self.estates.entry(root.to_path_buf()).or_default().disk = disk;
    }

    /// The estate's files by relative path, the open documents' text in place of what is on
    /// disk (borrowed: nothing is copied).
    fn sources(&self, root: &Path) -> BTreeMap<String, &[u8]> {
        let mut files: BTreeMap<String, &[u8]> = self
            .estates
            .get(root)
            .map(|e| e.disk.iter().map(|(path, bytes)| (path.clone(), bytes.as_slice())).collect())
            .unwrap_or_default();
        for (path, text) in &self.open {
            let Some(relative) = source::relative_path(root, path) else {
                continue;
            };
            let hidden = relative.split('/').any(|part| part.starts_with('.'));
            if !hidden && source::classify(&relative).is_some() {
                files.insert(relative, text.as_bytes());
            }
        }
        files
    }

    /// [`Server::sources`] as the compiler takes them.
    fn files(&self, root: &Path) -> Vec<RawFile> {
        self.sources(root).into_iter().map(|(path, bytes)| RawFile { path, bytes: bytes.to_vec() }).collect()
    }

    /// Compiles an estate and returns what to publish: every file with diagnostics, and an
    /// empty list for every file that had some at the previous check. A check that is not
    /// `full` (an edit) stops before rendering the artifacts and shows the rendering checks'
    /// findings (templates, size limits) from the last full check (open, save, close).
    fn check(&mut self, root: &Path, trigger: Option<&Path>, full: bool) -> Vec<PublishDiagnosticsParams> {
        let files = self.files(root);
        let options = Options { today: self.today.unwrap_or_else(crate::today_utc) };
        let cache = &self.estates.entry(root.to_path_buf()).or_default().cache;
        // A bug in idpc must not take the editor's server down with it: the panic hook has
        // logged it on stderr; the document shows it as `internal-error`.
        let compilation = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // The editor needs the diagnostics, not the artifacts: drop each as it is made.
            let discard = |_: &crate::emit::Artifact| {};
            let hooks = Hooks { consumer: Some(&discard), cache: Some(cache), renders: None, skip_emit: !full };
            compile_with(&files, &options, hooks)
        })) {
            Ok(compilation) => compilation,
            Err(_) => {
                let Some(uri) = trigger.and_then(|t| Url::from_file_path(t).ok()) else {
                    return Vec::new();
                };
                let diagnostic = LspDiagnostic {
                    range: Range::default(),
                    severity: Some(DiagnosticSeverity::ERROR),
                    code: Some(NumberOrString::String(crate::diagnostics::Code::InternalError.name().to_owned())),
                    source: Some("idpc".to_owned()),
                    message: "idpc failed while checking this estate; this is a bug in idpc, not in your estate (see the server's log)".to_owned(),
                    ..LspDiagnostic::default()
                };
                return vec![PublishDiagnosticsParams { uri, diagnostics: vec![diagnostic], version: None }];
            }
        };
        let mut by_file: BTreeMap<Url, Vec<LspDiagnostic>> = BTreeMap::new();
        let fallback = trigger.and_then(|t| Url::from_file_path(t).ok());
        for diagnostic in &compilation.diagnostics {
            let primary = diagnostic.labels.iter().find(|l| l.primary);
            let target = primary.and_then(|l| location(&compilation.sources, root, l));
            let (uri, range) = match (target, &fallback) {
                (Some(location), _) => (location.uri, location.range),
                (None, Some(uri)) => (uri.clone(), Range::default()),
                (None, None) => continue,
            };
            by_file.entry(uri).or_default().push(to_lsp(diagnostic, range, &compilation.sources, root, &self.explain));
        }
        let estate = self.estates.entry(root.to_path_buf()).or_default();
        let rendering = |d: &LspDiagnostic| {
            let code = match &d.code {
                Some(NumberOrString::String(code)) => crate::diagnostics::Code::from_name(code),
                _ => None,
            };
            code.is_some_and(|c| crate::emit::CODES.contains(&c))
        };
        if full {
            estate.rendering = by_file
                .iter()
                .flat_map(|(uri, list)| list.iter().filter(|d| rendering(d)).map(|d| (uri.clone(), d.clone())))
                .collect();
        } else {
            for (uri, diagnostic) in &estate.rendering {
                by_file.entry(uri.clone()).or_default().push(diagnostic.clone());
            }
        }
        estate.cache.sweep();
        estate.index = Some(Index { sources: compilation.sources, references: compilation.references });
        let mut published = Vec::new();
        for uri in &estate.published {
            if !by_file.contains_key(uri) {
                published.push(PublishDiagnosticsParams { uri: uri.clone(), diagnostics: Vec::new(), version: None });
            }
        }
        if let Some(uri) = &fallback
            && !by_file.contains_key(uri)
            && !estate.published.contains(uri)
        {
            // The edited file is clean: say so, so the editor clears anything it holds.
            published.push(PublishDiagnosticsParams { uri: uri.clone(), diagnostics: Vec::new(), version: None });
        }
        estate.published = by_file.keys().cloned().collect();
        published.extend(by_file.into_iter().map(|(uri, diagnostics)| PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        }));
        published
    }

    /// Moves the kept rendering findings of an edited document (`path`, before `new` is stored
    /// as its text) with its text: the edit changed one stretch of it; a finding before it
    /// stays, one after it moves, and one that overlaps it is dropped (the next full check says
    /// whether it still holds).
    fn follow_edit(&mut self, path: &Path, uri: &Url, new: &str) {
        if !self.estates.values().any(|e| e.rendering.iter().any(|(at, _)| at == uri)) {
            return;
        }
        let Some(old) = self.text_of(path) else { return };
        let edit = Edit::between(&old, new);
        for estate in self.estates.values_mut() {
            estate.rendering.retain_mut(|(at, diagnostic)| {
                if at != uri {
                    return true;
                }
                let Some(range) = edit.follow(diagnostic.range) else { return false };
                diagnostic.range = range;
                if let Some(related) = &mut diagnostic.related_information {
                    related.retain_mut(|r| match edit.follow(r.location.range) {
                        _ if &r.location.uri != uri => true,
                        Some(range) => {
                            r.location.range = range;
                            true
                        }
                        None => false,
                    });
                }
                true
            });
        }
    }

    /// The text of a file of an estate as the server sees it (open document, or disk).
    fn text_of(&self, path: &Path) -> Option<String> {
        if let Some(text) = self.open.get(path) {
            return Some(text.clone());
        }
        source::read_bounded(path).ok().and_then(|bytes| String::from_utf8(bytes).ok())
    }
}

/// A text as a source file, for position arithmetic.
fn text_file(text: String) -> SourceFile {
    SourceFile { path: String::new(), text, kind: source::FileKind::Spec }
}

/// Whether a folder's `.kdl` files (down to `depth`, hidden folders skipped) declare the
/// platform.
fn declares_platform(folder: &Path, open: &BTreeMap<PathBuf, String>, depth: usize) -> bool {
    let walker = walkdir::WalkDir::new(folder)
        .max_depth(depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker.filter_map(Result::ok) {
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "kdl") {
            continue;
        }
        let text = match open.get(entry.path()) {
            Some(text) => text.clone(),
            None => source::read_bounded(entry.path()).ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default(),
        };
        if text.lines().any(|line| {
            let rest = line.strip_prefix("platform").unwrap_or("");
            line.starts_with("platform") && rest.starts_with([' ', '\t', '"', '{'])
        }) {
            return true;
        }
    }
    false
}

fn range(file: &SourceFile, start: u32, end: u32) -> Range {
    let (start_line, start_column) = file.line_col_utf16(start);
    let (end_line, end_column) = file.line_col_utf16(end);
    Range { start: Position::new(start_line, start_column), end: Position::new(end_line, end_column) }
}

/// The location of a label in an estate file; `None` for stdlib files.
fn location(sources: &SourceSet, root: &Path, label: &Label) -> Option<Location> {
    let file = sources.file(label.span.file)?;
    if file.path.starts_with(crate::stdlib::PREFIX) {
        return None;
    }
    let uri = Url::from_file_path(root.join(&file.path)).ok()?;
    Some(Location { uri, range: range(file, label.span.start, label.span.end) })
}

fn to_lsp(diagnostic: &Diagnostic, range: Range, sources: &SourceSet, root: &Path, explain: &str) -> LspDiagnostic {
    let mut message = diagnostic.message.clone();
    if let Some(label) = diagnostic.labels.iter().find(|l| l.primary)
        && !label.message.is_empty()
    {
        message.push_str(&format!(": {}", label.message));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|l| !l.primary)
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation { location: location(sources, root, l)?, message: l.message.clone() })
        })
        .collect();
    let href = Url::parse(&format!("{explain}{}", diagnostic.code.name())).ok();
    LspDiagnostic {
        range,
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.name().to_owned())),
        code_description: href.map(|href| CodeDescription { href }),
        source: Some("idpc".to_owned()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags: None,
        data: None,
    }
}
