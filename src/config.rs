//! The one configuration struct, read from `TB_*` environment variables (API.md "Running").
//!
//! Every field has a working default so that `tenantbase serve` runs on a fresh machine with an
//! embedded SQLite database. Unknown `TB_*` variables are rejected: a typo in a deployment should
//! stop the process, not silently fall back to a default.

use std::{fmt, net::IpAddr, path::PathBuf, time::Duration};

use secrecy::{ExposeSecret, SecretString};

mod files;
mod limits;

pub use files::{FilesConfig, MIN_PART_SIZE, PlanFiles, StorageConfig};
pub use limits::{CacheConfig, PlanRates, RateLimitConfig};

/// Every variable this struct reads. Anything else starting with `TB_` is a configuration error.
const KNOWN_VARS: &[&str] = &[
    "TB_DATABASE_URL",
    "TB_MIGRATE_DATABASE_URL",
    "TB_BIND",
    "TB_BASE_DOMAIN",
    "TB_DATA_DIR",
    "TB_JWT_SECRET",
    "TB_JWT_PREVIOUS_SECRETS",
    "TB_REFRESH_TOKEN_TTL",
    "TB_LOGIN_ATTEMPTS_PER_IP",
    "TB_LOGIN_ATTEMPTS_PER_ACCOUNT",
    "TB_LOGIN_ATTEMPTS_PER_IP_ALL_TENANTS",
    "TB_JWT_ISSUER",
    "TB_ACCESS_TOKEN_TTL",
    "TB_ADMIN_EMAIL",
    "TB_ADMIN_PASSWORD",
    "TB_LOG",
    "TB_LOG_FORMAT",
    "TB_METRICS_TOKEN",
    "TB_TRUSTED_PROXIES",
    "TB_BODY_LIMIT",
    "TB_INSECURE_ALLOW_RLS_BYPASS",
    "TB_SHUTDOWN_TIMEOUT",
    "TB_HOOK_TIMEOUT_MS",
    "TB_WORKERS",
    "TB_PURGE_RETRY_SECONDS",
    "TB_SCHEDULE_CONCURRENCY",
    "TB_SCHEDULE_TIMEOUT_SECONDS",
    // Read by `tenantbase admin create` only.
    "TB_NEW_ADMIN_PASSWORD",
];

/// Whether `name` is a variable this configuration reads.
fn is_known(name: &str) -> bool {
    KNOWN_VARS.contains(&name) || files::VARS.contains(&name) || limits::VARS.contains(&name)
}

/// A configured JWT secret shorter than this stops startup (SECURITY.md item 12).
pub const MIN_SECRET_BYTES: usize = 32;

/// Variables with this prefix belong to the test suite and are not the server's.
const TEST_PREFIX: &str = "TB_TEST_";

/// Errors found while reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration variable {0} (known: {known}, {files}, {limits})", known = KNOWN_VARS.join(", "), files = files::VARS.join(", "), limits = limits::VARS.join(", "))]
    UnknownVariable(String),
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The complete server configuration.
#[derive(Clone)]
pub struct Config {
    /// `TB_DATABASE_URL`: runtime connection. Default: SQLite file in the data directory.
    pub database_url: SecretString,
    /// `TB_MIGRATE_DATABASE_URL`: owner connection used by `migrate`; defaults to `database_url`.
    pub migrate_database_url: Option<SecretString>,
    /// `TB_BIND`: listen address, `127.0.0.1:8080` by default; port 0 picks a free port.
    pub bind: String,
    /// `TB_BASE_DOMAIN`: tenants live at `{slug}.{base_domain}`. Default `localhost`.
    pub base_domain: String,
    /// `TB_DATA_DIR`: where the embedded database and the generated JWT secret live. Default `data`.
    pub data_dir: PathBuf,
    /// `TB_JWT_SECRET`: HS256 signing key, at least 32 bytes. Generated and kept in the data
    /// directory when unset (set it explicitly when running more than one instance).
    pub jwt_secret: Option<SecretString>,
    /// `TB_JWT_PREVIOUS_SECRETS`: comma-separated earlier signing keys still accepted for
    /// verification, so that rotating `TB_JWT_SECRET` logs nobody out. Each at least 32 bytes.
    pub jwt_previous_secrets: Vec<SecretString>,
    /// `TB_JWT_ISSUER`: the `iss` claim written and required. Default `tenantbase`.
    pub jwt_issuer: String,
    /// `TB_ACCESS_TOKEN_TTL`: access-token lifetime in seconds. Default 900 (15 minutes).
    pub access_token_ttl: Duration,
    /// `TB_REFRESH_TOKEN_TTL`: refresh-token (session) lifetime in seconds. Default 2592000 (30 days).
    pub refresh_token_ttl: Duration,
    /// `TB_LOGIN_ATTEMPTS_PER_IP`: login and refresh attempts per client IP and tenant per minute
    /// (also the burst). Default 30.
    pub login_attempts_per_ip: u32,
    /// `TB_LOGIN_ATTEMPTS_PER_IP_ALL_TENANTS`: login and refresh attempts per client IP per
    /// minute across every tenant, so cycling `X-Tenant-ID` earns no more. Default 100.
    pub login_attempts_per_ip_all_tenants: u32,
    /// `TB_LOGIN_ATTEMPTS_PER_ACCOUNT`: login attempts per account per minute. Default 10.
    pub login_attempts_per_account: u32,
    /// `TB_ADMIN_EMAIL`: with `admin_password`, `serve` ensures this platform admin exists.
    pub admin_email: Option<String>,
    /// `TB_ADMIN_PASSWORD`: the bootstrap platform admin's password.
    pub admin_password: Option<SecretString>,
    /// `TB_LOG`: tracing filter directives. Default `info`.
    pub log: String,
    /// `TB_LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `TB_METRICS_TOKEN`: bearer token `/metrics` (and the details of `/health/ready`)
    /// require; unset means loopback peers only, and only while no proxy is trusted.
    pub metrics_token: Option<SecretString>,
    /// `TB_TRUSTED_PROXIES`: comma-separated CIDRs of the reverse proxies in front of the server.
    /// Behind one, a loopback peer may be anyone, so it is no longer trusted by itself.
    pub trusted_proxies: Vec<Cidr>,
    /// `TB_BODY_LIMIT`: maximum request body in bytes. Default 1 MiB.
    pub body_limit: usize,
    /// `TB_INSECURE_ALLOW_RLS_BYPASS`: start even if the runtime role could bypass row-level
    /// security. For local experiments only; logged as a warning on every start.
    pub insecure_allow_rls_bypass: bool,
    /// `TB_SHUTDOWN_TIMEOUT`: seconds in-flight requests get to finish on SIGTERM. Default 30.
    pub shutdown_timeout: Duration,
    /// `TB_HOOK_TIMEOUT_MS`: how long one filter hook may run before its request fails. Default 5000.
    pub hook_timeout: Duration,
    /// `TB_PURGE_RETRY_SECONDS`: how often the server finishes tenant purges that were cut short
    /// or failed (on this or any instance). Default 60.
    pub purge_retry: Duration,
    /// `TB_SCHEDULE_CONCURRENCY`: how many tenants' runs of one scheduled job go on at once.
    /// Default 4.
    pub schedule_concurrency: usize,
    /// `TB_SCHEDULE_TIMEOUT_SECONDS`: how long one scheduled run may take before it is stopped.
    /// Default 300.
    pub schedule_timeout: Duration,
    /// `TB_WORKERS`: HTTP worker threads. Default: one per core.
    pub workers: Option<usize>,
    /// `TB_S3_*`: the object store; `None` when `TB_S3_BUCKET` is unset (file routes answer 503).
    pub storage: Option<StorageConfig>,
    /// `TB_FILES_*` and `TB_CORS_ORIGINS`: upload rules, per-plan limits, allowed origins.
    pub files: FilesConfig,
    /// `TB_RATE_LIMITS`, `TB_RATE_LIMIT_*`: requests per minute per tenant and per caller.
    pub rate_limits: RateLimitConfig,
    /// `TB_CACHE*`: the item query cache.
    pub cache: CacheConfig,
    /// `TB_USAGE_FLUSH_SECONDS`: how often this instance writes its usage counters. Default 10.
    pub usage_flush: Duration,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the configuration from `(name, value)` pairs; variables not starting with `TB_`
    /// are ignored. Tests use this to stay independent of the process environment.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = std::collections::HashMap::new();
        for (key, value) in vars {
            let key = key.into();
            if !key.starts_with("TB_") || key.starts_with(TEST_PREFIX) {
                continue;
            }
            if !is_known(&key) {
                return Err(ConfigError::UnknownVariable(key));
            }
            map.insert(key, value.into());
        }
        let get = |name: &str| map.get(name).filter(|v| !v.is_empty()).cloned();

        let data_dir = PathBuf::from(get("TB_DATA_DIR").unwrap_or_else(|| "data".into()));
        let default_db = format!("sqlite://{}/tenantbase.db?mode=rwc", data_dir.display());
        let base_domain =
            get("TB_BASE_DOMAIN").unwrap_or_else(|| "localhost".into()).trim_end_matches('.').to_ascii_lowercase();
        if base_domain.is_empty() || base_domain.contains(['/', ':', ' ']) {
            return Err(invalid("TB_BASE_DOMAIN", "must be a bare domain name such as example.com"));
        }
        let jwt_secret = get("TB_JWT_SECRET").map(SecretString::from);
        if jwt_secret.as_ref().is_some_and(|s| s.expose_secret().len() < MIN_SECRET_BYTES) {
            return Err(invalid(
                "TB_JWT_SECRET",
                "must be at least 32 bytes (256 bits) of random data, e.g. `openssl rand -base64 48`",
            ));
        }
        let jwt_previous_secrets: Vec<SecretString> = get("TB_JWT_PREVIOUS_SECRETS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SecretString::from)
            .collect();
        if jwt_previous_secrets.iter().any(|s| s.expose_secret().len() < MIN_SECRET_BYTES) {
            return Err(invalid("TB_JWT_PREVIOUS_SECRETS", "every previous secret must be at least 32 bytes"));
        }
        let admin_email = get("TB_ADMIN_EMAIL");
        let admin_password = get("TB_ADMIN_PASSWORD").map(SecretString::from);
        if admin_email.is_some() != admin_password.is_some() {
            return Err(invalid("TB_ADMIN_EMAIL", "TB_ADMIN_EMAIL and TB_ADMIN_PASSWORD must be set together"));
        }
        let log_format = match get("TB_LOG_FORMAT").as_deref() {
            None | Some("pretty") | Some("text") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid("TB_LOG_FORMAT", &format!("`{other}` is not one of pretty, json")));
            }
        };

        Ok(Config {
            database_url: SecretString::from(get("TB_DATABASE_URL").unwrap_or(default_db)),
            migrate_database_url: get("TB_MIGRATE_DATABASE_URL").map(SecretString::from),
            bind: get("TB_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir,
            jwt_secret,
            jwt_previous_secrets,
            jwt_issuer: get("TB_JWT_ISSUER").unwrap_or_else(|| "tenantbase".into()),
            refresh_token_ttl: Duration::from_secs(parse_number(&get, "TB_REFRESH_TOKEN_TTL", 30 * 24 * 3600)?),
            login_attempts_per_ip: parse_number(&get, "TB_LOGIN_ATTEMPTS_PER_IP", 30)?.max(1),
            login_attempts_per_account: parse_number(&get, "TB_LOGIN_ATTEMPTS_PER_ACCOUNT", 10)?.max(1),
            login_attempts_per_ip_all_tenants: parse_number(&get, "TB_LOGIN_ATTEMPTS_PER_IP_ALL_TENANTS", 100)?.max(1),
            access_token_ttl: Duration::from_secs(parse_number(&get, "TB_ACCESS_TOKEN_TTL", 900)?),
            admin_email,
            admin_password,
            log: get("TB_LOG").unwrap_or_else(|| "info".into()),
            log_format,
            metrics_token: get("TB_METRICS_TOKEN").map(SecretString::from),
            trusted_proxies: parse_cidrs(&get, "TB_TRUSTED_PROXIES")?,
            body_limit: parse_number(&get, "TB_BODY_LIMIT", 1024 * 1024)?,
            insecure_allow_rls_bypass: parse_bool(&get, "TB_INSECURE_ALLOW_RLS_BYPASS")?,
            shutdown_timeout: Duration::from_secs(parse_number(&get, "TB_SHUTDOWN_TIMEOUT", 30)?),
            hook_timeout: Duration::from_millis(parse_number(&get, "TB_HOOK_TIMEOUT_MS", 5000)?),
            purge_retry: Duration::from_secs(parse_number(&get, "TB_PURGE_RETRY_SECONDS", 60)?.max(1)),
            schedule_concurrency: parse_number(&get, "TB_SCHEDULE_CONCURRENCY", 4)?.max(1),
            schedule_timeout: Duration::from_secs(parse_number(&get, "TB_SCHEDULE_TIMEOUT_SECONDS", 300)?.max(1)),
            workers: get("TB_WORKERS").map(|_| parse_number(&get, "TB_WORKERS", 1)).transpose()?,
            storage: files::storage(&get)?,
            files: files::files(&get, &base_domain)?,
            rate_limits: limits::rate_limits(&get)?,
            cache: limits::cache(&get)?,
            usage_flush: limits::usage_flush(&get)?,
            base_domain,
        })
    }

    /// The owner connection for migrations: `TB_MIGRATE_DATABASE_URL`, else `TB_DATABASE_URL`.
    pub fn migrate_url(&self) -> &SecretString {
        self.migrate_database_url.as_ref().unwrap_or(&self.database_url)
    }

    /// True when the configured database is the embedded SQLite default (or any SQLite file).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose_secret().starts_with("sqlite:")
    }
}

/// An IP network, `10.0.0.0/8` or `fd00::/8` (a bare address is its own /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("`{text}` is not an IP address or CIDR"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= max).ok_or(format!("bad prefix in `{text}`"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

fn parse_cidrs(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<Vec<Cidr>, ConfigError> {
    let Some(list) = get(name) else { return Ok(Vec::new()) };
    list.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| item.parse().map_err(|e: String| invalid(name, &e)))
        .collect()
}

fn invalid(name: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid { name, reason: reason.to_string() }
}

fn parse_number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => {
            raw.trim().parse().map_err(|_| invalid(name, &format!("`{raw}` is not a non-negative whole number")))
        }
    }
}

fn parse_bool(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    parse_flag(get, name, false)
}

/// A boolean variable, `default` when unset.
fn parse_flag(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("false") | Some("0") | Some("no") | Some("off") => Ok(false),
        Some("true") | Some("1") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(invalid(name, &format!("`{other}` is not true or false"))),
    }
}

/// Shows a database URL with its password replaced, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(self.database_url.expose_secret()))
            .field("migrate_database_url", &self.migrate_database_url.as_ref().map(|u| redact_url(u.expose_secret())))
            .field("bind", &self.bind)
            .field("base_domain", &self.base_domain)
            .field("data_dir", &self.data_dir)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "***"))
            .field("jwt_previous_secrets", &self.jwt_previous_secrets.len())
            .field("admin_email", &self.admin_email)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("body_limit", &self.body_limit)
            .field("insecure_allow_rls_bypass", &self.insecure_allow_rls_bypass)
            .field("storage", &self.storage.as_ref().map(|s| (s.endpoint.as_deref(), &s.bucket)))
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_with_no_variables() {
        let config = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert!(config.is_sqlite());
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.base_domain, "localhost");
        assert_eq!(config.body_limit, 1024 * 1024);
    }

    #[test]
    fn trusted_proxies_are_cidrs() {
        let config = Config::from_vars([("TB_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7,fd00::/8")]).unwrap();
        let contains = |ip: &str| config.trusted_proxies.iter().any(|c| c.contains(ip.parse().unwrap()));
        assert!(contains("10.200.3.4") && contains("192.168.1.7") && contains("fd12::1"));
        assert!(contains("::ffff:10.1.2.3"), "an IPv4-mapped address counts as IPv4");
        assert!(!contains("11.0.0.1") && !contains("192.168.1.8") && !contains("127.0.0.1"));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129"] {
            assert!(Config::from_vars([("TB_TRUSTED_PROXIES", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_tb_variables_are_rejected() {
        let err = Config::from_vars([("TB_DATABSE_URL", "x")]).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownVariable(name) if name == "TB_DATABSE_URL"));
    }

    #[test]
    fn short_jwt_secret_stops_startup() {
        assert!(Config::from_vars([("TB_JWT_SECRET", "too-short")]).is_err());
    }

    #[test]
    fn debug_output_redacts_passwords() {
        let config = Config::from_vars([
            ("TB_DATABASE_URL", "postgres://app:hunter2@db/tb"),
            ("TB_JWT_SECRET", "0123456789abcdef0123456789abcdef-secret"),
        ])
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("0123456789abcdef"));
        assert!(shown.contains("postgres://app:***@db/tb"));
    }
}
