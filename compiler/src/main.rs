//! The `idpc` command line: arguments, loading, compiling, rendering diagnostics, writing,
//! exit codes. The only module that prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Parser, Subcommand, ValueEnum};
use idpc::diagnostics::human::{self, Style};
use idpc::diagnostics::{Code, Severity, machine};
use idpc::model::Date;
use idpc::review::{diff, graph};
use idpc::{Compilation, Options, source, write};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code: the estate is valid (warnings allowed).
const EXIT_OK: u8 = 0;
/// Exit code: the estate has errors.
const EXIT_INVALID: u8 = 1;
/// Exit code: usage or I/O failure.
const EXIT_USAGE: u8 = 2;
/// Exit code: idpc itself failed (a bug).
const EXIT_INTERNAL: u8 = 70;

#[derive(Parser)]
#[command(
    name = "idpc",
    version,
    about = "Compile an Internal Developer Platform estate into CloudFormation, OpenAPI and Datadog artifacts",
    after_help = "Examples:\n  idpc check examples/reference\n  idpc build examples/reference -o out\n  idpc build examples/reference -o out --today 2026-11-28\n  idpc build examples/reference -o out --check\n  idpc check examples/reference --message-format github\n  idpc diff old-out new-out\n  idpc graph examples/reference --format mermaid --tenant acme-bank\n  idpc explain unknown-account\n  idpc explain baseline cost\n  idpc explain stage payments acme-test examples/reference\n  idpc lsp\n\nExit codes: 0 valid, 1 spec errors (diff: the builds differ), 2 usage or I/O failure, 70 internal error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    /// The estate folder (its .kdl files are read recursively).
    estate: PathBuf,
    /// Today's date (UTC) for `expires=`, to reproduce a build.
    #[arg(long, env = "IDPC_TODAY", value_parser = parse_date, value_name = "YYYY-MM-DD")]
    today: Option<Date>,
    /// How to report problems: `human` on stderr; `json` (one `idpc-diagnostics/1` document)
    /// or `github` (workflow-command annotations) on stdout, or on stderr for `graph`.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    /// Keep each file's lowered model in DIR, keyed by its content (for CI runners that keep
    /// a cache folder): unchanged files are neither parsed nor lowered again.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Markdown,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check an estate and report every problem; writes nothing.
    Check {
        #[command(flatten)]
        common: Common,
    },
    /// Build an estate's artifacts and manifest into OUT (replaced as a whole).
    Build {
        #[command(flatten)]
        common: Common,
        /// Output folder; replaced atomically, only if empty or an earlier idpc output.
        #[arg(short, long, value_name = "OUT")]
        out: PathBuf,
        /// Write nothing; fail (exit 1) unless OUT is exactly what the estate builds to, and
        /// show what would change (for repositories that commit their artifacts).
        #[arg(long)]
        check: bool,
    },
    /// Compare two builds: stacks, resources, routes, security and monitors that change.
    /// Exit 0 when identical, 1 when they differ.
    Diff {
        /// The build before the change (an OUT folder).
        old: PathBuf,
        /// The build after the change.
        new: PathBuf,
        /// `markdown` (for a pull-request comment, at most 64,000 characters) or `json`
        /// (`idpc-diff/2`, every change).
        #[arg(long, value_enum, default_value_t = DiffFormat::Markdown)]
        format: DiffFormat,
        /// A budget raised by more than this factor is a warning.
        #[arg(long, default_value_t = 2.0, value_parser = budget_factor)]
        budget_factor: f64,
    },
    /// Print the deploy plan's stacks, dependencies and waves.
    Graph {
        #[command(flatten)]
        common: Common,
        /// `dot` (Graphviz), `mermaid` or `json` (`idpc-graph/1`).
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Only this tenant's stacks (and the stacks they depend on).
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// Only this environment's stacks (and the stacks they depend on).
        #[arg(long, value_name = "ENVIRONMENT")]
        environment: Option<String>,
    },
    /// Run the language server on stdin/stdout (for editors).
    Lsp,
    /// Explain a diagnostic code, a stdlib baseline (`idpc explain baseline cost`), or where
    /// each setting of an API stage comes from (`idpc explain stage API ENV [ESTATE]`).
    Explain {
        /// The code, such as `unknown-account`, or `baseline`, or `stage`.
        code: String,
        /// With `baseline`: the baseline's name (none: the list of baselines). With `stage`:
        /// the API, the environment, and the estate folder (default: the current folder).
        args: Vec<String>,
        /// With `stage`: today's date (UTC) for `expires=`.
        #[arg(long, env = "IDPC_TODAY", value_parser = parse_date, value_name = "YYYY-MM-DD")]
        today: Option<Date>,
    },
}

fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text).ok_or_else(|| format!("`{text}` is not a date; write YYYY-MM-DD"))
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "error[{}]: idpc failed{location}: {}\n  help: this is a bug in idpc, not in your estate; please report it with the estate that triggers it",
            Code::InternalError,
            human::escape(&message)
        );
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => ExitCode::from(code),
        Err(_) => ExitCode::from(EXIT_INTERNAL),
    }
}

fn run() -> u8 {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { common } => compile_estate(&common, Target::Check),
        Command::Build { common, out, check: false } => compile_estate(&common, Target::Build(&out)),
        Command::Build { common, out, check: true } => compile_estate(&common, Target::Verify(&out)),
        Command::Diff { old, new, format, budget_factor } => {
            diff_builds(&old, &new, format, diff::Options { budget_factor })
        }
        Command::Graph { common, format, tenant, environment } => {
            print_graph(&common, format, graph::Filter { tenant, environment })
        }
        Command::Lsp => match idpc::lsp::serve_stdio() {
            Ok(()) => EXIT_OK,
            Err(error) => {
                eprintln!("error: the language server stopped: {error}");
                EXIT_USAGE
            }
        },
        Command::Explain { code, args, today } => match (code.as_str(), args.as_slice()) {
            ("baseline", []) => explain_baseline(None),
            ("baseline", [name]) => explain_baseline(Some(name)),
            ("stage", [api, env]) => explain_stage(api, env, &PathBuf::from("."), today),
            ("stage", [api, env, estate]) => explain_stage(api, env, &PathBuf::from(estate), today),
            ("stage", _) => {
                eprintln!("error: use `idpc explain stage API ENVIRONMENT [ESTATE]`");
                EXIT_USAGE
            }
            (_, []) => explain(&code),
            (_, [extra, ..]) => {
                eprintln!(
                    "error: unexpected `{extra}`; use `idpc explain CODE`, `idpc explain baseline NAME` or `idpc explain stage API ENVIRONMENT [ESTATE]`"
                );
                EXIT_USAGE
            }
        },
    }
}

fn style() -> Style {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let width = if color { 120 } else { Style::PLAIN.width };
    Style { color, width }
}

/// What `check` and `build` do with a valid estate.
enum Target<'a> {
    /// Nothing.
    Check,
    /// Write it into OUT.
    Build(&'a PathBuf),
    /// Compare it with OUT (`build --check`).
    Verify(&'a PathBuf),
}

/// Loads and compiles an estate and reports its diagnostics in the chosen format; `None` on a
/// usage or I/O failure (already reported).
fn load_and_compile(
    common: &Common,
    machine_to_stdout: bool,
    consumer: Option<idpc::emit::Consumer<'_>>,
) -> Option<Compilation> {
    let files = match source::load_estate(&common.estate) {
        Ok(files) => files,
        Err(error) => {
            report_failure(common.message_format, machine_to_stdout, &error.to_string());
            return None;
        }
    };
    let options = Options { today: common.today.unwrap_or_else(idpc::today_utc) };
    let disk = common.cache.clone().map(idpc::cache::DiskStore::new);
    let store = disk.as_ref().map(|s| s as &dyn idpc::cache::Store);
    let hooks = idpc::Hooks { consumer, cache: store, renders: store, skip_emit: false };
    let compilation = idpc::compile_with(&files, &options, hooks);
    if let Some(disk) = &disk {
        disk.sweep();
    }
    let root = common.estate.to_string_lossy().replace('\\', "/");
    let explain = machine::explain_base(std::env::var("IDPC_EXPLAIN_URL").ok().as_deref());
    let machine = match common.message_format {
        MessageFormat::Human => {
            eprint!("{}", human::render(&compilation.diagnostics, &compilation.sources, style()));
            return Some(compilation);
        }
        MessageFormat::Json => machine::render_json(&compilation.diagnostics, &compilation.sources, &root, &explain),
        MessageFormat::Github => {
            machine::render_github(&compilation.diagnostics, &compilation.sources, &root, &explain)
        }
    };
    if machine_to_stdout {
        print!("{machine}");
    } else {
        eprint!("{machine}");
    }
    Some(compilation)
}

/// Reports a usage or I/O failure (exit code 2): on stderr as `error: ...`, and for tools in
/// their format too, so that a `json` reader always gets a document (`failure` holds the
/// message, `errors` counts it) and a GitHub workflow an annotation.
fn report_failure(format: MessageFormat, machine_to_stdout: bool, message: &str) {
    eprintln!("error: {}", human::escape(message));
    let machine = match format {
        MessageFormat::Human => return,
        MessageFormat::Json => machine::render_failure_json(message),
        MessageFormat::Github => machine::render_failure_github(message),
    };
    if machine_to_stdout {
        print!("{machine}");
    } else {
        eprint!("{machine}");
    }
}

/// `N errors, M warnings`, and whether there is any error.
fn counts(compilation: &Compilation) -> (String, bool) {
    let errors = compilation.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = compilation.diagnostics.len() - errors;
    (format!("{} error{}, {} warning{}", errors, plural(errors), warnings, plural(warnings)), errors > 0)
}

fn compile_estate(common: &Common, target: Target<'_>) -> u8 {
    // A build streams each artifact into the staging folder as soon as it is rendered, so
    // memory does not grow with the output; `check` drops them; `--check` compares them.
    let staging = match target {
        Target::Build(out) => match write::Staging::begin(out, &|| {
            eprintln!("note: another idpc build is writing beside `{}`; waiting for it to finish", out.display())
        }) {
            Ok(staging) => Some(staging),
            Err(error) => {
                report_failure(common.message_format, true, &error.to_string());
                return EXIT_USAGE;
            }
        },
        _ => None,
    };
    let failure: Mutex<Option<write::WriteError>> = Mutex::new(None);
    let write = |artifact: &idpc::emit::Artifact| {
        if let Some(staging) = &staging
            && let Err(error) = staging.write(&artifact.path, &artifact.bytes)
            && let Ok(mut failure) = failure.lock()
        {
            failure.get_or_insert(error);
        }
    };
    let discard = |_: &idpc::emit::Artifact| {};
    let consumer: Option<idpc::emit::Consumer<'_>> = match target {
        Target::Build(_) => Some(&write),
        Target::Check => Some(&discard),
        Target::Verify(_) => None,
    };
    let Some(compilation) = load_and_compile(common, true, consumer) else {
        return EXIT_USAGE;
    };
    let (counts, invalid) = counts(&compilation);
    if invalid {
        let what = match target {
            Target::Check => "the estate is invalid",
            Target::Build(_) => "nothing was written",
            Target::Verify(_) => "nothing was compared",
        };
        eprintln!("error: {counts}; {what}");
        return EXIT_INVALID;
    }
    let stacks = compilation.plan.as_ref().map_or(0, |p| p.stacks.len());
    match (target, &compilation.output) {
        (Target::Build(out), Some(output)) => {
            let written = match failure.into_inner().ok().flatten() {
                Some(error) => Err(error),
                None => staging.map_or(Ok(()), |s| s.commit(&output.manifest)),
            };
            if let Err(error) = written {
                report_failure(common.message_format, true, &error.to_string());
                return EXIT_USAGE;
            }
            eprintln!(
                "built {stacks} stack{} and {} artifact{} into {} ({counts})",
                plural(stacks),
                output.artifacts.len(),
                plural(output.artifacts.len()),
                out.display()
            );
        }
        (Target::Verify(out), Some(output)) => return verify(out, output, common),
        _ => eprintln!("ok: {stacks} stack{} planned ({counts})", plural(stacks)),
    }
    // The process ends here: freeing the sources, the plan and the artifact list one
    // allocation at a time (and the allocator handing pages back) would only delay the exit.
    std::mem::forget(compilation);
    EXIT_OK
}

/// `build --check`: whether OUT holds exactly this build.
fn verify(out: &std::path::Path, output: &idpc::emit::Output, common: &Common) -> u8 {
    let rebuild = format!("run `idpc build {} -o {}` and commit the result", common.estate.display(), out.display());
    let existing = match diff::Tree::read(out) {
        Ok(tree) => tree,
        Err(error) => {
            eprintln!("error: {} is not up to date: {error}\n  help: {rebuild}", out.display());
            return EXIT_INVALID;
        }
    };
    match diff::diff(&existing, &diff::Tree::from_output(output)) {
        Ok(report) if report.is_empty() => {
            eprintln!("ok: {} is up to date", out.display());
            EXIT_OK
        }
        Ok(report) => {
            eprint!("{}", human::escape(&report.markdown()));
            eprintln!("\nerror: {} is not what the estate builds to\n  help: {rebuild}", out.display());
            EXIT_INVALID
        }
        Err(error) => {
            eprintln!("error: {} is not up to date: {error}\n  help: {rebuild}", out.display());
            EXIT_INVALID
        }
    }
}

/// `--budget-factor`: a finite number of at least 1 (below 1 every unchanged budget would
/// be "raised past" it).
fn budget_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 1.0 => Ok(f),
        _ => Err(format!("`{text}` is not a factor of at least 1 (such as 1.5)")),
    }
}

fn diff_builds(old: &std::path::Path, new: &std::path::Path, format: DiffFormat, options: diff::Options) -> u8 {
    let trees = diff::Tree::read(old).and_then(|o| Ok((o, diff::Tree::read(new)?)));
    let report = trees.and_then(|(o, n)| diff::diff_with(&o, &n, options));
    match report {
        Ok(report) => {
            match format {
                DiffFormat::Markdown => print!("{}", human::escape(&report.markdown())),
                DiffFormat::Json => print!("{}", report.json()),
            }
            if report.is_empty() { EXIT_OK } else { EXIT_INVALID }
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_USAGE
        }
    }
}

fn print_graph(common: &Common, format: GraphFormat, filter: graph::Filter) -> u8 {
    let discard = |_: &idpc::emit::Artifact| {};
    let Some(compilation) = load_and_compile(common, false, Some(&discard)) else {
        return EXIT_USAGE;
    };
    let (counts, invalid) = counts(&compilation);
    let plan = match &compilation.plan {
        Some(plan) if !invalid => plan,
        _ => {
            eprintln!("error: {counts}; no graph");
            return EXIT_INVALID;
        }
    };
    for (tag, wanted, what) in
        [("idpc:tenant", &filter.tenant, "tenant"), ("idpc:environment", &filter.environment, "environment")]
    {
        if let Some(wanted) = wanted {
            let known = graph::tag_values(plan, tag);
            if !known.contains(wanted) {
                let names: Vec<&str> = known.iter().map(String::as_str).collect();
                eprintln!("error: no {what} `{wanted}` has stacks in this estate");
                eprintln!("  help: {}", idpc::diagnostics::suggest(wanted, &names));
                return EXIT_USAGE;
            }
        }
    }
    let text = match format {
        GraphFormat::Dot => graph::dot(plan, &filter),
        GraphFormat::Mermaid => graph::mermaid(plan, &filter),
        GraphFormat::Json => graph::json(plan, &filter),
    };
    print!("{text}");
    EXIT_OK
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn explain_baseline(name: Option<&str>) -> u8 {
    let names: Vec<String> = idpc::stdlib_baselines().iter().map(|b| b.name.value.to_string()).collect();
    match name.and_then(idpc::explain_baseline) {
        Some(page) => {
            print!("{page}");
            EXIT_OK
        }
        None => {
            if let Some(name) = name {
                eprintln!("error: no stdlib baseline `{name}`");
            }
            let list: Vec<&str> = names.iter().map(String::as_str).collect();
            eprintln!("  help: stdlib baselines: {}", list.join(", "));
            if name.is_some() { EXIT_USAGE } else { EXIT_OK }
        }
    }
}

/// `idpc explain stage API ENV ESTATE`: the stage's effective settings and where each is written.
fn explain_stage(api: &str, env: &str, estate: &std::path::Path, today: Option<Date>) -> u8 {
    let common = Common { estate: estate.to_path_buf(), today, message_format: MessageFormat::Human, cache: None };
    let Some(compilation) = load_and_compile(&common, false, None) else {
        return EXIT_USAGE;
    };
    let (Some(resolved), Some(plan), false) = (&compilation.resolved, &compilation.plan, compilation.has_errors())
    else {
        let (counts, _) = counts(&compilation);
        eprintln!("error: the estate does not resolve ({counts}): fix it first");
        return EXIT_INVALID;
    };
    match idpc::explain::stage(resolved, plan, &compilation.sources, api, env) {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(idpc::explain::NoStage::UnknownApi) => {
            let names: Vec<&str> = resolved.estate.apis.iter().map(|a| a.name.value.as_str()).collect();
            eprintln!("error: the estate has no API `{api}`");
            eprintln!("  help: {}", idpc::diagnostics::suggest(api, &names));
            EXIT_USAGE
        }
        Err(idpc::explain::NoStage::NotDeployed(envs)) => {
            eprintln!("error: `{api}` is not built in environment `{env}`");
            let envs: Vec<&str> = envs.iter().map(String::as_str).collect();
            eprintln!("  help: {}", idpc::diagnostics::suggest(env, &envs));
            EXIT_USAGE
        }
    }
}

fn explain(code: &str) -> u8 {
    match Code::from_name(code.trim_start_matches("idpc::")) {
        Some(code) => {
            print!("{}", code.explain());
            EXIT_OK
        }
        None => {
            let names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
            eprintln!("error: no diagnostic code `{code}`");
            eprintln!("  help: {}", idpc::diagnostics::suggest(code, &names));
            EXIT_USAGE
        }
    }
}
