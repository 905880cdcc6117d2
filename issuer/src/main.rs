//! The `issuer` binary: `serve`, `users add`, `clients add`, `keys list`.

fn main() -> std::process::ExitCode {
    issuer::cli::main()
}
