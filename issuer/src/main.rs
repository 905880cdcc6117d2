//! The `issuer` binary: `serve` and the admin commands (see `issuer::cli`).

fn main() -> std::process::ExitCode {
    issuer::cli::main()
}
