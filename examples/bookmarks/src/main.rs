//! A tenantbase server with the bookmarks extension: the same command line as `tenantbase`
//! (`serve`, `migrate`, `tenants apply`, `admin create`), with one more extension registered.

use std::process::ExitCode;

use tenantbase::hooks::Hooks;

#[tokio::main]
async fn main() -> ExitCode {
    let mut hooks = Hooks::with_builtins();
    tenantbase_example_bookmarks::register(&mut hooks);
    tenantbase::cli::run(hooks).await
}
