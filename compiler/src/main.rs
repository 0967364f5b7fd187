//! The `idpc` command line: arguments, loading, compiling, rendering diagnostics, writing,
//! exit codes. The only module that prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use idpc::diagnostics::human::{self, Style};
use idpc::diagnostics::{Code, Severity};
use idpc::model::Date;
use idpc::{Options, compile, source, write};

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
    after_help = "Examples:\n  idpc check examples/reference\n  idpc build examples/reference -o out\n  idpc build examples/reference -o out --today 2026-11-28\n  idpc explain unknown-account\n  idpc explain baseline cost\n\nExit codes: 0 valid, 1 spec errors, 2 usage or I/O failure, 70 internal error."
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
    },
    /// Explain a diagnostic code, or a stdlib baseline (`idpc explain baseline cost`).
    Explain {
        /// The code, such as `unknown-account`, or `baseline`.
        code: String,
        /// With `baseline`: the baseline's name; without it, the list of baselines.
        name: Option<String>,
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
        Command::Check { common } => compile_estate(&common, None),
        Command::Build { common, out } => compile_estate(&common, Some(&out)),
        Command::Explain { code, name } => match (code.as_str(), name) {
            ("baseline", name) => explain_baseline(name.as_deref()),
            (_, Some(extra)) => {
                eprintln!("error: unexpected `{extra}`; use `idpc explain CODE` or `idpc explain baseline NAME`");
                EXIT_USAGE
            }
            (_, None) => explain(&code),
        },
    }
}

fn style() -> Style {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let width = if color { 120 } else { Style::PLAIN.width };
    Style { color, width }
}

fn compile_estate(common: &Common, out: Option<&PathBuf>) -> u8 {
    let files = match source::load_estate(&common.estate) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let options = Options { today: common.today.unwrap_or_else(idpc::today_utc) };
    let compilation = compile(&files, &options);
    eprint!("{}", human::render(&compilation.diagnostics, &compilation.sources, style()));
    let errors = compilation.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = compilation.diagnostics.len() - errors;
    let counts = format!("{} error{}, {} warning{}", errors, plural(errors), warnings, plural(warnings));
    if errors > 0 {
        let what = if out.is_some() { "nothing was written" } else { "the estate is invalid" };
        eprintln!("error: {counts}; {what}");
        return EXIT_INVALID;
    }
    let stacks = compilation.plan.as_ref().map_or(0, |p| p.stacks.len());
    match (out, &compilation.output) {
        (Some(out), Some(output)) => {
            if let Err(error) = write::write_output(out, output) {
                eprintln!("error: {error}");
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
        _ => eprintln!("ok: {stacks} stack{} planned ({counts})", plural(stacks)),
    }
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
