//! The `resource-api` binary: with no arguments (or `serve`) it runs the
//! service; `healthcheck` probes this instance's `/readyz` for container
//! health checks (exit 0 when ready, 1 otherwise).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use resource_api::{Application, Settings};
use service_kit::config::EnvReader;

#[derive(Debug, Parser)]
#[command(
    name = "resource-api",
    version,
    about = "Example protected service (configured by RESOURCE_* variables)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Exit 0 if this instance's GET /readyz answers 200, else 1.
    Healthcheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env(&EnvReader::from_env()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("resource-api: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Healthcheck) = cli.command {
        return match service_kit::healthcheck::check(&settings.listen.to_string()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("resource-api: {e}");
                ExitCode::FAILURE
            }
        };
    }
    service_kit::telemetry::init(settings.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("resource-api: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        Application::build(settings).await?.run().await?;
        anyhow::Ok(())
    });
    service_kit::telemetry::flush(std::time::Duration::from_secs(2));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resource-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}
