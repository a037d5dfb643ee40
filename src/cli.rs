//! The `tenantbase` command line: parse, configure, then serve or run a one-off command. The
//! `tenantbase` binary is `cli::run(Hooks::with_builtins())`; a binary of your own passes its
//! own hooks and routes (README "Extensions").

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::{Application, Config, config::LogFormat, db, hooks::Hooks, manifest, services, telemetry};

#[derive(Parser)]
#[command(version, about = "A multi-tenant SaaS backend. Configured by TB_* environment variables (and .env).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates an embedded SQLite database automatically).
    Serve,
    /// Apply database migrations as the owner and grant the runtime role (PostgreSQL).
    Migrate,
    /// Manage tenants from manifests.
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Manage platform admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum TenantsCommand {
    /// Create or update the tenants described by the *.toml files in DIR (idempotent, all or nothing).
    Apply { dir: PathBuf },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform admin (an existing one is left unchanged).
    Create {
        #[arg(long)]
        email: String,
        /// The password; prefer TB_NEW_ADMIN_PASSWORD to keep it out of the process list.
        #[arg(long, env = "TB_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Remove a platform admin and end their sessions (running servers refuse their tokens at once).
    Remove {
        #[arg(long)]
        email: String,
    },
}

/// Parses the command line and runs it with these hooks; the process's exit code.
pub async fn run(hooks: Hooks) -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; a broken one is worth saying.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: cannot read .env: {error}");
        return ExitCode::FAILURE;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&config.log, config.log_format);
    let out = Output(config.log_format);
    match execute(cli.command, config, hooks, out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            out.error(&error.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Where the command line reports: plain lines for people, or with `TB_LOG_FORMAT=json` log
/// events only, so that every line of output is JSON.
#[derive(Clone, Copy)]
struct Output(LogFormat);

impl Output {
    fn say(self, text: &str) {
        match self.0 {
            LogFormat::Pretty => println!("{text}"),
            LogFormat::Json => tracing::info!("{text}"),
        }
    }

    fn error(self, text: &str) {
        match self.0 {
            LogFormat::Pretty => eprintln!("error: {text}"),
            LogFormat::Json => tracing::error!("{text}"),
        }
    }
}

async fn execute(
    command: Command,
    config: Config,
    hooks: Hooks,
    out: Output,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve => {
            let address = config.bind.clone();
            let base = config.base_domain.clone();
            let app = Application::build_with_hooks(config, hooks).await?;
            let port = app.port();
            let host = address.rsplit_once(':').map_or(address.as_str(), |(h, _)| h);
            match out.0 {
                LogFormat::Json => tracing::info!(%address, port, base_domain = %base, "tenantbase listening"),
                LogFormat::Pretty => {
                    println!(
                        "tenantbase is listening on http://{host}:{port} (tenants at http://{{slug}}.{base}:{port})"
                    )
                }
            }
            app.run_until_signalled().await?;
            out.say("tenantbase stopped");
        }
        Command::Migrate => {
            db::migrate(&config).await?;
            out.say("migrations applied");
        }
        Command::Tenants { command: TenantsCommand::Apply { dir } } => {
            let manifests = manifest::load_dir(&dir, &config.base_domain, |name| std::env::var(name).ok())?;
            let conn = connect_migrated(&config).await?;
            let outcomes = manifest::apply(&conn, &manifests).await?;
            for outcome in outcomes {
                let admin = if outcome.admin_created { ", admin created" } else { "" };
                out.say(&format!("{}: {:?}{admin}", outcome.slug, outcome.tenant));
            }
        }
        Command::Admin { command: AdminCommand::Remove { email } } => {
            let conn = connect_migrated(&config).await?;
            if !services::admins::remove(&conn, &email).await? {
                return Err(format!("no platform admin {email}").into());
            }
            out.say(&format!("platform admin {email} removed"));
        }
        Command::Admin { command: AdminCommand::Create { email, password } } => {
            let conn = connect_migrated(&config).await?;
            match services::admins::ensure(&conn, &email, SecretString::from(password)).await? {
                services::admins::Ensured::Created => out.say(&format!("platform admin {email} created")),
                services::admins::Ensured::Existed => {
                    out.say(&format!("platform admin {email} already exists; unchanged"))
                }
            }
        }
    }
    Ok(())
}

/// The platform handle for one-off commands; an embedded SQLite database is migrated first.
async fn connect_migrated(config: &Config) -> Result<db::PlatformDb, Box<dyn std::error::Error>> {
    if config.is_sqlite() {
        db::migrate(config).await?;
    }
    Ok(db::PlatformDb::connect(config).await?)
}
