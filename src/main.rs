//! The `pith` binary: command line, settings, wiring. Nothing depends on it.

mod cli;
mod plugins;
mod run;
mod settings;
mod telemetry;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Every HTTP client (remotes, OTLP, analytics) needs the TLS provider installed first.
    pith_actors::tls::install_provider();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pith: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run::main(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pith: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
