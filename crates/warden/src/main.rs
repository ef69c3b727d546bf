//! `warden`: the command line and the server.
//!
//! Stateful commands are clients of the HTTP API (like kubectl); `serve` runs the API and `profile` is a
//! local, stateless utility. Exit codes: 0 success, 1 the request was refused (bad input, not found,
//! conflict, not allowed), 2 usage error, 3 the server could not be reached or failed.

/// `println!` that ends the command quietly when standard output is closed (`warden … | head`), where
/// `println!` would panic.
macro_rules! outln {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same rule as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

mod audit;
mod bulk;
mod cli;
mod client;
mod commands;
mod demo;
mod findings;
mod governance;
mod http_server;
mod inventory;
mod login;
mod mlflow;
mod render;
mod reports;
mod serve;
mod tls;

use clap::Parser;

// The scoring path allocates many small, short-lived buffers on every worker; glibc's malloc spent a tenth
// of the server's time on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes to standard output. A reader that went away (EPIPE) ends the process with status 0, as `grep`
/// and `ripgrep` do; any other failure to write is an error on stderr and exit status 3.
pub(crate) fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {err}");
        std::process::exit(3);
    }
}

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // CI commands (gate check, policy test) answer 0 allow/pass, 1 deny/fail, 2 any error.
    let ci = matches!(&args.command, cli::Command::Gate(_) | cli::Command::Policy(cli::PolicyCommand::Test { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::from(if ci { 2 } else { 3 });
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) => {
            let code = match err.downcast_ref::<client::ApiFailure>() {
                _ if ci => 2,
                Some(failure) => failure.exit_code(),
                None => 1,
            };
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(code)
        }
    }
}
