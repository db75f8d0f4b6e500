//! The `dcs-reconcile` binary: parse, set up logging, run, map the outcome to an exit code.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use dcs_reconcile::cli::{Cli, ColorChoice, Command, LogFormat};
use dcs_reconcile::config::Env;
use dcs_reconcile::error::EXIT_ERROR;
use dcs_reconcile::{Confirmation, Io};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; usage errors exit 1 (2 means "changes pending").
            return if e.use_stderr() {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let env = Env::from_process();
    let mut stdout = std::io::stdout();
    let mut confirm = ask_on_terminal;
    let color = use_color(cli.color, std::io::stdout().is_terminal());
    let mut io = Io {
        out: &mut stdout,
        confirm: &mut confirm,
        color,
        progress: std::io::stderr().is_terminal() && !cli.quiet,
    };
    match runtime.block_on(dcs_reconcile::run(cli, &env, &mut io)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Whether to colour a stream: `always`, `never`, or `auto` = a terminal without `NO_COLOR`
/// (any non-empty value, <https://no-color.org>).
fn use_color(choice: ColorChoice, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Asks on stderr and reads the answer from stdin, when stdin is a terminal.
fn ask_on_terminal(question: &str) -> Confirmation {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Confirmation::NoTerminal;
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    match stdin.lock().read_line(&mut answer) {
        Ok(_) if answer.trim() == "yes" => Confirmation::Yes,
        _ => Confirmation::No,
    }
}

/// Logs go to stderr: warnings by default (requests too for `emulator`), more with -v, only
/// errors with -q; `RUST_LOG` overrides. HTTP and TLS libraries are capped at `info` whatever
/// is asked, so that no header value can reach the log.
fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let base = match (cli.quiet, cli.verbose, &cli.command) {
        (true, _, _) => "error",
        (false, 0, Command::Emulator(_)) => "info",
        (false, 0, _) => "warn",
        (false, 1, _) => "info",
        (false, 2, _) => "debug",
        _ => "trace",
    };
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(base));
    for capped in [
        "hyper=info",
        "hyper_util=info",
        "reqwest=info",
        "rustls=info",
        "h2=info",
        "axum=info",
        "tower=info",
    ] {
        if let Ok(d) = capped.parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(use_color(cli.color, std::io::stderr().is_terminal()))
            .try_init(),
    };
}
