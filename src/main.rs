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
    let runtime = match dcs_reconcile::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let env = Env::from_process();
    let mut stdout = std::io::stdout();
    let mut confirm = ask_on_terminal;
    let color = use_color(cli.color, &std::io::stdout());
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
            // Never a panic on a closed stderr: the exit code says what happened.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Whether to colour a stream: `always`, `never`, or `auto`, which anstream decides as
/// terminals do (a terminal that supports colour, unless `NO_COLOR` is set; `CLICOLOR_FORCE`).
fn use_color<S: anstream::stream::RawStream>(choice: ColorChoice, stream: &S) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never,
    }
}

/// Asks on the terminal and reads the answer from stdin, when stdin is a terminal. The
/// question is written to the terminal itself (not stderr), so that `apply 2>log` does not
/// wait at an invisible prompt. Only exactly `yes` confirms.
fn ask_on_terminal(question: &str) -> Confirmation {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Confirmation::NoTerminal;
    }
    let asked = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .and_then(|mut tty| {
            tty.write_all(question.as_bytes())
                .and_then(|()| tty.flush())
        });
    if asked.is_err() {
        let mut err = std::io::stderr();
        let _ = err
            .write_all(question.as_bytes())
            .and_then(|()| err.flush());
    }
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return Confirmation::No;
    }
    let answer = answer.strip_suffix('\n').unwrap_or(&answer);
    let answer = answer.strip_suffix('\r').unwrap_or(answer);
    if answer == "yes" {
        Confirmation::Yes
    } else {
        Confirmation::No
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
            .with_ansi(use_color(cli.color, &std::io::stderr()))
            .try_init(),
    };
}
