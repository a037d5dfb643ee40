//! Tenant manifests: one TOML file per tenant, applied with `tenantbase tenants apply <dir>`.
//!
//! Schema version 1:
//!
//! ```toml
//! version = 1                      # required; the schema version of this file
//! slug = "acme"                    # required; the subdomain
//! name = "Acme Corp"               # required
//! plan = "pro"                     # free | pro | enterprise (default free)
//! domains = ["acme.example"]       # custom domains (default none)
//! [settings]                       # any table (default empty)
//! theme = "dark"
//! [admin]                          # the tenant's first admin, created if missing
//! email = "admin@acme.example"
//! password_env = "ACME_ADMIN_PASSWORD"   # an environment variable, never a literal secret
//! ```
//!
//! A directory is applied all or nothing: every file is parsed and validated first, and any
//! problem is reported with its file and line before anything is written; then every tenant is
//! created or updated in one transaction. Applying the same directory twice changes nothing the
//! second time (an existing admin keeps their password).

use std::{
    fmt,
    ops::Range,
    path::{Path, PathBuf},
};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

use crate::{
    auth::password,
    db::{PlatformDb, TenantTxn},
    error::Error,
    input::{Checks, normalize_email},
    services::tenants::{self, Applied, TenantSpec},
};

/// The manifest schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: Spanned<u32>,
    slug: Spanned<String>,
    name: Spanned<String>,
    plan: Option<Spanned<String>>,
    #[serde(default)]
    domains: Option<Spanned<Vec<String>>>,
    settings: Option<Spanned<toml::Table>>,
    admin: Option<Spanned<AdminManifest>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminManifest {
    email: Spanned<String>,
    password_env: Spanned<String>,
}

/// A manifest that passed validation, ready to apply.
pub struct TenantManifest {
    pub file: PathBuf,
    pub spec: TenantSpec,
    admin: Option<(String, SecretString)>,
}

/// A problem with one manifest file, or with applying the directory.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}")]
    Invalid(Problems),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("applying {file} failed, nothing was changed: {source}")]
    Apply { file: String, source: Error },
    #[error("nothing was changed: {0}")]
    Database(#[from] Error),
}

/// Every problem found in a directory, each as `file:line: message`.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s) in the manifests, nothing was changed:", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// One line of `apply`'s report.
#[derive(Debug)]
pub struct Outcome {
    pub slug: String,
    pub tenant: Applied,
    pub admin_created: bool,
}

fn line_of(source: &str, span: Option<Range<usize>>) -> usize {
    span.map_or(1, |s| source[..s.start.min(source.len())].matches('\n').count() + 1)
}

/// Reads and validates every `*.toml` file of `dir` (sorted by name). `env` resolves
/// `password_env` names.
pub fn load_dir(
    dir: &Path,
    base_domain: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<TenantManifest>, ManifestError> {
    let io = |source| ManifestError::Io { path: dir.display().to_string(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut problems = Problems::default();
    if files.is_empty() {
        problems.0.push(format!("{}: no *.toml manifests found", dir.display()));
    }
    let mut manifests: Vec<TenantManifest> = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file)
            .map_err(|source| ManifestError::Io { path: file.display().to_string(), source })?;
        let at = |span: Option<Range<usize>>| format!("{}:{}", file.display(), line_of(&source, span));
        match toml::from_str::<Manifest>(&source) {
            Err(e) => problems.0.push(format!("{}: {}", at(e.span()), e.message().trim())),
            Ok(manifest) => match validate(manifest, base_domain, &env, &at) {
                Ok(spec) => {
                    if let Some(other) = manifests.iter().find(|m| m.spec.slug == spec.spec.slug) {
                        problems.0.push(format!(
                            "{}: slug `{}` is also used by {}",
                            at(None),
                            spec.spec.slug,
                            other.file.display()
                        ));
                    }
                    manifests.push(TenantManifest { file: file.clone(), ..spec });
                }
                Err(found) => problems.0.extend(found),
            },
        }
    }
    if problems.0.is_empty() { Ok(manifests) } else { Err(ManifestError::Invalid(problems)) }
}

fn validate(
    m: Manifest,
    base_domain: &str,
    env: &impl Fn(&str) -> Option<String>,
    at: &impl Fn(Option<Range<usize>>) -> String,
) -> Result<TenantManifest, Vec<String>> {
    let mut problems = Vec::new();
    if *m.version.get_ref() != SCHEMA_VERSION {
        problems.push(format!("{}: version must be {SCHEMA_VERSION}", at(Some(m.version.span()))));
    }
    let mut checks = Checks::default();
    let settings = m.settings.as_ref().map(|s| serde_json::to_value(s.get_ref())).transpose();
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("{}: settings: {e}", at(m.settings.as_ref().map(|s| s.span()))));
            None
        }
    };
    let domains = m.domains.as_ref().map(|d| d.get_ref().clone()).unwrap_or_default();
    let spec = TenantSpec::parse(
        &mut checks,
        m.slug.get_ref(),
        m.name.get_ref(),
        m.plan.as_ref().map(|p| p.get_ref().as_str()),
        &domains,
        settings,
        base_domain,
    );
    let mut admin = None;
    if let Some(a) = &m.admin {
        let a = a.get_ref();
        let email = checks.check(normalize_email("admin.email", a.email.get_ref()));
        match env(a.password_env.get_ref()) {
            None => problems.push(format!(
                "{}: admin.password_env: environment variable {} is not set",
                at(Some(a.password_env.span())),
                a.password_env.get_ref()
            )),
            Some(secret) => {
                if let Err(e) = password::check_policy("admin.password_env", &secret) {
                    problems.push(format!(
                        "{}: the password in {} {}",
                        at(Some(a.password_env.span())),
                        a.password_env.get_ref(),
                        e.message
                    ));
                } else if let Some(email) = email {
                    admin = Some((email, SecretString::from(secret)));
                }
            }
        }
    }
    if let Err(Error::Problem { errors, .. }) = checks.finish() {
        for e in errors {
            let span = match e.field.as_str() {
                "slug" => Some(m.slug.span()),
                "name" => Some(m.name.span()),
                "plan" => m.plan.as_ref().map(|p| p.span()),
                "settings" => m.settings.as_ref().map(|s| s.span()),
                "admin.email" => m.admin.as_ref().map(|a| a.get_ref().email.span()),
                f if f.starts_with("domains") => m.domains.as_ref().map(|d| d.span()),
                _ => None,
            };
            problems.push(format!("{}: {}: {}", at(span), e.field, e.message));
        }
    }
    match spec {
        Some(spec) if problems.is_empty() => Ok(TenantManifest { file: PathBuf::new(), spec, admin }),
        _ => Err(problems),
    }
}

/// Applies validated manifests in one transaction: all or nothing.
pub async fn apply(db: &PlatformDb, manifests: &[TenantManifest]) -> Result<Vec<Outcome>, ManifestError> {
    let outer = db.begin().await.map_err(Error::from)?;
    let mut outcomes = Vec::new();
    for manifest in manifests {
        let failed = |source: Error| ManifestError::Apply { file: manifest.file.display().to_string(), source };
        let id = tenants::id_by_slug(db, &manifest.spec.slug).await.map_err(failed)?.unwrap_or_else(Uuid::now_v7);
        let txn = TenantTxn::nested(&outer, id).await.map_err(|e| failed(e.into()))?;
        let tenant = tenants::apply_spec(&txn, &manifest.spec).await.map_err(failed)?;
        let admin_created = match &manifest.admin {
            Some((email, secret)) => {
                let secret = SecretString::from(secret.expose_secret().to_string());
                tenants::ensure_admin_user(&txn, email, secret).await.map_err(failed)?
            }
            None => false,
        };
        txn.commit().await.map_err(|e| failed(e.into()))?;
        outcomes.push(Outcome { slug: manifest.spec.slug.clone(), tenant, admin_created });
    }
    outer.commit().await.map_err(Error::from)?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    fn env(name: &str) -> Option<String> {
        (name == "ACME_PW").then(|| "a-long-demo-password".to_string())
    }

    #[test]
    fn valid_manifests_load() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "acme.toml",
            "version = 1\nslug = \"acme\"\nname = \"Acme\"\nplan = \"pro\"\ndomains = [\"Acme.Example\"]\n[settings]\ntheme = \"dark\"\n[admin]\nemail = \"A@acme.example\"\npassword_env = \"ACME_PW\"\n",
        );
        let loaded = load_dir(dir.path(), "localhost", env).unwrap();
        assert_eq!(loaded[0].spec.domains, vec!["acme.example"]);
        assert_eq!(loaded[0].spec.settings["theme"], "dark");
        assert_eq!(loaded[0].admin.as_ref().unwrap().0, "a@acme.example");
    }

    #[test]
    fn problems_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.toml", "version = 1\nslug = \"a\"\nname = \"A\"\n");
        write(dir.path(), "b.toml", "version = 1\nname = \"B\"\nslug = \"Bad Slug\"\n");
        write(dir.path(), "c.toml", "version = 1\nslug = \"c\"\nname = \"C\"\nplan = = \"x\"\n");
        write(
            dir.path(),
            "d.toml",
            "version = 1\nslug = \"d\"\nname = \"D\"\n[admin]\nemail = \"d@d.io\"\npassword_env = \"MISSING\"\n",
        );
        let Err(ManifestError::Invalid(problems)) = load_dir(dir.path(), "localhost", env) else { panic!() };
        let text = problems.to_string();
        assert!(text.contains("b.toml:3: slug"), "{text}");
        assert!(text.contains("c.toml:4:"), "{text}");
        assert!(text.contains("d.toml:6: admin.password_env"), "{text}");
        assert!(!text.contains("a.toml"), "{text}");
    }
}
