//! The `tenantbase` binary: the command line with the built-in hooks.

use std::process::ExitCode;

use tenantbase::hooks::Hooks;

#[tokio::main]
async fn main() -> ExitCode {
    tenantbase::cli::run(Hooks::with_builtins()).await
}
