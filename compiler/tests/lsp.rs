//! `idpc lsp` driven over stdio as an editor drives it: framed JSON-RPC in, framed JSON-RPC out.
//! Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

struct Editor {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
}

impl Editor {
    fn start(workspace: &Path) -> Editor {
        Editor::start_with(workspace, json!({}))
    }

    fn start_with(workspace: &Path, capabilities: Value) -> Editor {
        // The stdlib's read-only copy (definition of a stdlib baseline) goes beside the
        // workspace, not into the user's cache.
        let mut child = Command::new(env!("CARGO_BIN_EXE_idpc"))
            .arg("lsp")
            .env_remove("IDPC_TODAY")
            .env("XDG_CACHE_HOME", workspace.join(".cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("idpc lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length header")];
                reader.read_exact(&mut body).expect("body");
                if sender.send(serde_json::from_slice::<Value>(&body).expect("JSON body")).is_err() {
                    return;
                }
            }
        });
        let mut editor = Editor { child, stdin, messages, next_id: 0 };
        let uri = url(workspace);
        let response = editor.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri,
                "workspaceFolders": [{ "uri": uri, "name": "estate" }],
                "capabilities": capabilities,
                "initializationOptions": { "today": "2026-11-28" },
            }),
        );
        assert_eq!(response["result"]["capabilities"]["definitionProvider"], true, "{response}");
        editor.notify("initialized", json!({}));
        editor
    }

    fn send(&mut self, message: Value) {
        let body = serde_json::to_string(&message).expect("json");
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn receive(&mut self) -> Value {
        self.messages.recv_timeout(Duration::from_secs(60)).expect("the server answers within a minute")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.receive();
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Diagnostics published for a document, skipping those for other documents.
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri {
                return message["params"]["diagnostics"].as_array().expect("list").clone();
            }
        }
    }

    fn stop(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "{response}");
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("exits");
        assert!(status.success(), "{status:?}");
    }
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A copy of a folder of the repository (without a case's own `case.kdl`) in a temporary
/// folder, as `<tmp>/estate`.
fn copy_of(relative: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("estate");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.expect("readable");
        let to = root.join(entry.path().strip_prefix(&from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
        } else if entry.file_name() != "case.kdl" {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
    (dir, root)
}

fn estate() -> (tempfile::TempDir, PathBuf) {
    copy_of("examples/reference")
}

#[test]
fn diagnostics_appear_on_the_right_range_and_clear_when_fixed() {
    let (_dir, root) = estate();
    let mut editor = Editor::start(&root);
    let path = root.join("apis/accounts.kdl");
    let uri = url(&path);
    let good = std::fs::read_to_string(&path).expect("accounts.kdl");
    // Unsaved text with an unknown environment; the comment puts a character outside the
    // BMP before it (two UTF-16 code units), so the column must count as LSP does.
    let bad = good.replace("deploy \"acme-prod\" \"acme-test\"", "deploy /* 🚀 */ \"acme-prd\" \"acme-test\"");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": bad } }),
    );
    let diagnostics = editor.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let diagnostic = &diagnostics[0];
    assert_eq!(diagnostic["code"], "unknown-environment");
    assert_eq!(diagnostic["severity"], 1);
    assert_eq!(diagnostic["source"], "idpc");
    // `    deploy /* 🚀 */ "acme-prd"`: the value starts after 4 + 7 + 3 + 2 + 4 UTF-16 units.
    assert_eq!(
        diagnostic["range"],
        json!({ "start": { "line": 1, "character": 20 }, "end": { "line": 1, "character": 30 } })
    );
    assert!(diagnostic["message"].as_str().expect("message").contains("acme-prod"), "{diagnostic}");
    assert_eq!(diagnostic["codeDescription"]["href"], "https://idpc.dev/explain/unknown-environment");

    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": good }] }),
    );
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    editor.stop();
}

#[test]
fn errors_in_other_files_of_the_estate_are_published_and_cleared() {
    let (_dir, root) = estate();
    let mut editor = Editor::start(&root);
    // Editing the environments file breaks payments.kdl, which is not open.
    let path = root.join("tenants/acme-bank/environments.kdl");
    let uri = url(&path);
    let good = std::fs::read_to_string(&path).expect("environments.kdl");
    let bad = good.replace("environment \"acme-test\"", "environment \"acme-qa\"");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": bad } }),
    );
    let payments = url(&root.join("apis/payments.kdl"));
    let diagnostics = editor.diagnostics_for(&payments);
    assert!(diagnostics.iter().any(|d| d["code"] == "unknown-environment"), "{diagnostics:?}");
    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": good }] }),
    );
    assert_eq!(editor.diagnostics_for(&payments), Vec::<Value>::new());
    editor.stop();
}

fn position_of(text: &str, needle: &str) -> Value {
    let offset = text.find(needle).expect("needle") + 1;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": column })
}

#[test]
fn go_to_definition_and_hover() {
    let (_dir, root) = estate();
    let mut editor = Editor::start(&root);
    let path = root.join("apis/payments.kdl");
    let uri = url(&path);
    let text = std::fs::read_to_string(&path).expect("payments.kdl");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": text } }),
    );
    // `deploy "acme-test"` -> `environment "acme-test"` in environments.kdl.
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "\"acme-test\"") }),
    );
    let environments = std::fs::read_to_string(root.join("tenants/acme-bank/environments.kdl")).expect("envs");
    let line = environments.lines().position(|l| l.starts_with("environment \"acme-test\"")).expect("declared");
    assert_eq!(response["result"]["uri"], url(&root.join("tenants/acme-bank/environments.kdl")), "{response}");
    assert_eq!(response["result"]["range"]["start"], json!({ "line": line, "character": 0 }), "{response}");
    // `uses "accounts"` -> `api "accounts"`.
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "\"accounts\"") }),
    );
    assert_eq!(response["result"]["uri"], url(&root.join("apis/accounts.kdl")), "{response}");
    assert_eq!(response["result"]["range"]["start"], json!({ "line": 0, "character": 0 }), "{response}");
    // Nothing to jump to from a route.
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "\"/payments\"") }),
    );
    assert_eq!(response["result"], Value::Null, "{response}");

    // `account="acme-dev"` and hover on `baseline "cost"` in the accounts file.
    let accounts_path = root.join("tenants/acme-bank/accounts.kdl");
    let accounts_uri = url(&accounts_path);
    let accounts = std::fs::read_to_string(&accounts_path).expect("accounts.kdl");
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": accounts_uri }, "position": position_of(&accounts, "\"acme-bank\"") }),
    );
    assert_eq!(response["result"]["uri"], url(&root.join("tenants/acme-bank/tenant.kdl")), "{response}");
    let response = editor.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": accounts_uri }, "position": position_of(&accounts, "\"cost\"") }),
    );
    let hover = response["result"]["contents"]["value"].as_str().expect("markdown");
    assert!(hover.starts_with("# baseline cost (account scope)"), "{hover}");
    assert!(hover.contains("`monthly-limit` (number; required; at least 1"), "{hover}");
    editor.stop();
}

#[test]
fn closing_an_unsaved_broken_document_reverts_to_the_file_on_disk() {
    let (_dir, root) = estate();
    let mut editor = Editor::start(&root);
    let path = root.join("tenants/acme-bank/tenant.kdl");
    let uri = url(&path);
    let good = std::fs::read_to_string(&path).expect("tenant.kdl");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": good.replace("region \"eu-central-1\"", "region \"eu-nowhere-1\"") } }),
    );
    let diagnostics = editor.diagnostics_for(&uri);
    assert!(!diagnostics.is_empty());
    editor.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }));
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    // Saved to disk broken: the save re-reads the estate and reports it again.
    std::fs::write(&path, good.replace("tenant \"acme-bank\"", "tenant \"acme-bank\" tenant=\"x\"")).expect("write");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": good } }),
    );
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    editor.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri } }));
    // The open document's text still wins over the disk while it is open.
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    editor.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }));
    let diagnostics = editor.diagnostics_for(&uri);
    assert!(diagnostics.iter().any(|d| d["code"] == "unknown-property"), "{diagnostics:?}");
    editor.stop();
}

#[test]
fn edits_keep_the_rendering_checks_of_the_last_full_check() {
    // An estate whose baseline template is broken: only rendering finds it.
    let (_dir, root) = copy_of("tests/cases/err/bad-template--syntax");
    let mut editor = Editor::start(&root);
    let path = root.join("main.kdl");
    let uri = url(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": text } }),
    );
    let codes = |list: Vec<Value>| list.iter().map(|d| d["code"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let line_of = |list: &[Value]| list[0]["range"]["start"]["line"].as_u64().unwrap();
    let diagnostics = editor.diagnostics_for(&uri);
    assert_eq!(codes(diagnostics.clone()), ["bad-template"]);
    assert_eq!(line_of(&diagnostics), 14, "{diagnostics:?}");
    // An edit is checked without rendering; the template problem is still shown, and moves
    // with the text it points at when lines are added above it.
    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": format!("{text}\n// edited\n") }] }),
    );
    let diagnostics = editor.diagnostics_for(&uri);
    assert_eq!((codes(diagnostics.clone()), line_of(&diagnostics)), (vec!["bad-template".to_owned()], 14));
    let moved = format!("// one\n// two\n{text}\n// edited\n");
    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": moved }] }),
    );
    let diagnostics = editor.diagnostics_for(&uri);
    assert_eq!((codes(diagnostics.clone()), line_of(&diagnostics)), (vec!["bad-template".to_owned()], 16));
    // Editing the line it points at drops it until the next full check says again.
    let edited = moved.replace("    baseline \"guardduty\"", "    baseline  \"guardduty\"");
    assert_ne!(edited, moved);
    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 4 }, "contentChanges": [{ "text": edited }] }),
    );
    assert_eq!(codes(editor.diagnostics_for(&uri)), Vec::<String>::new());
    std::fs::write(&path, &edited).unwrap();
    editor.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri } }));
    let diagnostics = editor.diagnostics_for(&uri);
    assert_eq!((codes(diagnostics.clone()), line_of(&diagnostics)), (vec!["bad-template".to_owned()], 16));
    editor.stop();
}

#[test]
fn files_changed_on_disk_recheck_the_estate_when_the_client_watches_them() {
    let (_dir, root) = estate();
    let mut editor =
        Editor::start_with(&root, json!({ "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } } }));
    // The server asks the client to watch the estate's files.
    let registration = loop {
        let message = editor.receive();
        if message["method"] == "client/registerCapability" {
            break message;
        }
    };
    let globs: Vec<&str> = registration["params"]["registrations"][0]["registerOptions"]["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["globPattern"].as_str().unwrap())
        .collect();
    assert_eq!(globs, ["**/*.kdl", "**/*.json.hbs"]);
    editor.send(json!({ "jsonrpc": "2.0", "id": registration["id"], "result": null }));
    let path = root.join("apis/payments.kdl");
    let uri = url(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": text } }),
    );
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    // Another file changes on disk: the environment payments deploys to disappears.
    let environments = root.join("tenants/acme-bank/environments.kdl");
    let before = std::fs::read_to_string(&environments).unwrap();
    std::fs::write(&environments, before.replace("environment \"acme-test\"", "environment \"acme-qa\"")).unwrap();
    editor.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": url(&environments), "type": 2 }] }));
    let diagnostics = editor.diagnostics_for(&uri);
    assert!(diagnostics.iter().any(|d| d["code"] == "unknown-environment"), "{diagnostics:?}");
    editor.stop();
}

/// The inputs that once aborted the process (kdl's recursion past the stack, reached after
/// text the old nesting pre-scan read differently from kdl): typed into an open document, each
/// gives a diagnostic on that document, hover and definition on it answer, and the server
/// goes on to clear the diagnostics when the text is fixed.
#[test]
fn the_server_survives_every_document_that_once_aborted_it() {
    let (_dir, root) = estate();
    let mut editor = Editor::start(&root);
    let path = root.join("apis/payments.kdl");
    let uri = url(&path);
    let good = std::fs::read_to_string(&path).expect("payments.kdl");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": good } }),
    );
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    let triggers = [
        ("x \"an unterminated string\n".to_owned() + &"x {\n".repeat(3_000), "syntax-error"),
        ("// a comment ended by a carriage return\r".to_owned() + &"x {".repeat(3_000), "nesting-too-deep"),
        ("x \"\\q\" ".to_owned() + &"{".repeat(20_000), "syntax-error"),
        ("a\"".to_owned() + &"{".repeat(20_000) + "\"", "syntax-error"),
        ("/* ".to_owned() + &"* ".repeat(200_000), "syntax-error"),
        ("x {\n".repeat(100) + &"}\n".repeat(100), "nesting-too-deep"),
    ];
    for (version, (tail, code)) in triggers.iter().enumerate() {
        let text = format!("{good}\n{tail}");
        editor.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version + 2 }, "contentChanges": [{ "text": text }] }),
        );
        let diagnostics = editor.diagnostics_for(&uri);
        assert!(diagnostics.iter().any(|d| d["code"] == *code), "{code}: {diagnostics:?}");
        let position = position_of(&text, "\"accounts\"");
        let hover =
            editor.request("textDocument/hover", json!({ "textDocument": { "uri": uri }, "position": position }));
        assert!(hover.get("result").is_some(), "{hover}");
        let definition =
            editor.request("textDocument/definition", json!({ "textDocument": { "uri": uri }, "position": position }));
        assert!(definition.get("result").is_some(), "{definition}");
    }
    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 100 }, "contentChanges": [{ "text": good }] }),
    );
    assert_eq!(editor.diagnostics_for(&uri), Vec::<Value>::new());
    editor.stop();
}

#[test]
fn definition_reaches_stdlib_baselines_and_requires_targets_from_the_reference_index() {
    let (_dir, root) = estate();
    // An estate baseline that requires a stdlib one.
    let own = root.join("baselines/tagging/baseline.kdl");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    let declaration =
        "baseline \"tagging\" scope=\"account\" {\n    description \"Tag policy\"\n    requires \"audit-trail\"\n}\n";
    std::fs::write(&own, declaration).unwrap();
    let mut editor = Editor::start(&root);
    // A mistake in another account of the document (which drops that account): the index
    // still answers for the rest.
    let accounts_path = root.join("tenants/acme-bank/accounts.kdl");
    let accounts_uri = url(&accounts_path);
    let accounts = std::fs::read_to_string(&accounts_path)
        .unwrap()
        .replace("baseline \"cost\" monthly-limit=400", "baseline \"cost\" monthly-limits=400");
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": accounts_uri, "languageId": "kdl", "version": 1, "text": accounts } }),
    );
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": accounts_uri }, "position": position_of(&accounts, "\"cost\"") }),
    );
    let target = response["result"]["uri"].as_str().expect("a location").to_owned();
    assert!(target.ends_with("/baselines/cost/baseline.kdl") && target.contains("/.cache/idpc/stdlib-"), "{response}");
    let copy = url_path(&target);
    let text = std::fs::read_to_string(&copy).expect("the copy exists");
    assert!(text.contains("baseline \"cost\""), "{text}");
    assert!(std::fs::metadata(&copy).unwrap().permissions().readonly(), "the copy is read-only");
    let line = text.lines().position(|l| l.starts_with("baseline \"cost\"")).unwrap();
    assert_eq!(response["result"]["range"]["start"]["line"], line, "{response}");
    // In the account being typed (dropped for its error), `tenant=` still leads to the tenant.
    let broken = accounts
        .replace("account \"acme-dev\" tenant=\"acme-bank\"", "account \"acme-dev\" tenant=\"acme-bank\" typo=1");
    editor.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": accounts_uri, "version": 2 }, "contentChanges": [{ "text": broken }] }),
    );
    let at = broken.find("typo=1").unwrap() - "\"acme-bank\" ".len() + 1;
    let line = broken[..at].matches('\n').count();
    let character = at - broken[..at].rfind('\n').map_or(0, |i| i + 1);
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": accounts_uri }, "position": { "line": line, "character": character } }),
    );
    assert_eq!(response["result"]["uri"], url(&root.join("tenants/acme-bank/tenant.kdl")), "{response}");
    // `requires "audit-trail"` in the estate's own baseline -> the stdlib's audit-trail.
    let own_uri = url(&own);
    editor.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": own_uri, "languageId": "kdl", "version": 1, "text": declaration } }),
    );
    let response = editor.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": own_uri }, "position": position_of(declaration, "\"audit-trail\"") }),
    );
    let target = response["result"]["uri"].as_str().expect("a location");
    assert!(target.ends_with("/baselines/audit-trail/baseline.kdl"), "{response}");
    // And hover on it shows the stdlib baseline's page.
    let response = editor.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": own_uri }, "position": position_of(declaration, "\"audit-trail\"") }),
    );
    let hover = response["result"]["contents"]["value"].as_str().expect("markdown");
    assert!(hover.starts_with("# baseline audit-trail (account scope)"), "{hover}");
    editor.stop();
}

fn url_path(uri: &str) -> PathBuf {
    PathBuf::from(uri.strip_prefix("file://").expect("a file URI"))
}
