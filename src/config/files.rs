//! The object store and the file rules (`TB_S3_*`, `TB_FILES_*`): where uploads go, how long
//! their URLs live, and what each plan may store.

use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, invalid, parse_bool, parse_flag, parse_number};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// S3's smallest part (except the last) of a multipart upload.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The longest a presigned upload URL may live, whatever is configured (S3 allows 7 days).
pub const MAX_UPLOAD_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// The longest a presigned download URL may live.
pub const MAX_DOWNLOAD_EXPIRY: Duration = Duration::from_secs(3600);

/// The variables this file reads, for the list of known ones.
pub(super) const VARS: &[&str] = &[
    "TB_S3_ENDPOINT",
    "TB_S3_REGION",
    "TB_S3_BUCKET",
    "TB_S3_ACCESS_KEY_ID",
    "TB_S3_SECRET_ACCESS_KEY",
    "TB_S3_FORCE_PATH_STYLE",
    "TB_S3_PREFIX",
    "TB_S3_CREATE_BUCKET",
    "TB_S3_MANAGE_CORS",
    "TB_CORS_ORIGINS",
    "TB_FILES_MULTIPART_THRESHOLD",
    "TB_FILES_PART_SIZE",
    "TB_FILES_UPLOAD_EXPIRY_SECONDS",
    "TB_FILES_DOWNLOAD_EXPIRY_SECONDS",
    "TB_FILES_CLEANUP_SCHEDULE",
    "TB_FILES_MAX_SIZE_FREE",
    "TB_FILES_MAX_SIZE_PRO",
    "TB_FILES_MAX_SIZE_ENTERPRISE",
    "TB_FILES_QUOTA_FREE",
    "TB_FILES_QUOTA_PRO",
    "TB_FILES_QUOTA_ENTERPRISE",
    "TB_FILES_TYPES_FREE",
    "TB_FILES_TYPES_PRO",
    "TB_FILES_TYPES_ENTERPRISE",
];

/// The types every plan accepts unless configured otherwise. `image/svg+xml` and `text/html`
/// are not among them: both can carry script.
pub const DEFAULT_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,\
text/csv,application/json,application/zip,application/gzip,video/mp4,video/webm,audio/mpeg,audio/ogg,audio/wav,\
application/octet-stream";

/// Where files are stored. Present when `TB_S3_BUCKET` is set.
#[derive(Clone)]
pub struct StorageConfig {
    /// `TB_S3_ENDPOINT`: the store's URL; unset for AWS itself.
    pub endpoint: Option<String>,
    /// `TB_S3_REGION`. Default `us-east-1`.
    pub region: String,
    /// `TB_S3_BUCKET`.
    pub bucket: String,
    /// `TB_S3_ACCESS_KEY_ID` and `TB_S3_SECRET_ACCESS_KEY`; unset: the usual AWS chain
    /// (environment, profile, web identity, container and instance metadata).
    pub credentials: Option<(String, SecretString)>,
    /// `TB_S3_FORCE_PATH_STYLE`: `{endpoint}/{bucket}/{key}` instead of `{bucket}.{endpoint}`,
    /// which most stores other than AWS need. Default: true when an endpoint is set.
    pub force_path_style: bool,
    /// `TB_S3_PREFIX`: the keys' prefix inside the bucket, without slashes at either end.
    pub prefix: Option<String>,
    /// `TB_S3_CREATE_BUCKET`: create the bucket at startup when missing. Default false.
    pub create_bucket: bool,
    /// `TB_S3_MANAGE_CORS`: keep the bucket's CORS rules in step with the tenants' origins.
    /// Default true; false leaves the bucket's CORS to the operator.
    pub manage_cors: bool,
}

/// What one plan may store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFiles {
    /// The largest file, bytes.
    pub max_size: u64,
    /// Every file of the tenant together (pending uploads included), bytes.
    pub quota: u64,
    /// Allowed content types: exact (`image/png`) or a whole family (`image/*`).
    pub types: Vec<String>,
}

impl PlanFiles {
    /// Whether `content_type` (lower-case, no parameters) is allowed.
    pub fn allows(&self, content_type: &str) -> bool {
        let family = content_type.split('/').next().unwrap_or_default();
        self.types.iter().any(|allowed| match allowed.strip_suffix("/*") {
            Some(prefix) => prefix == family,
            None => allowed == content_type,
        })
    }
}

/// The file rules.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// `TB_FILES_MULTIPART_THRESHOLD`: uploads above this many bytes are multipart. Default 64 MiB.
    pub multipart_threshold: u64,
    /// `TB_FILES_PART_SIZE`: the size of each part but the last (at least 5 MiB; larger when a
    /// file would need more than 10,000 parts). Default 16 MiB.
    pub part_size: u64,
    /// `TB_FILES_UPLOAD_EXPIRY_SECONDS`: how long an upload's URLs stay valid, at most one day.
    /// A pending upload is cleaned up after it. Default 900.
    pub upload_expiry: Duration,
    /// `TB_FILES_DOWNLOAD_EXPIRY_SECONDS`: how long a download URL stays valid, at most an hour.
    /// Default 300.
    pub download_expiry: Duration,
    /// `TB_FILES_CLEANUP_SCHEDULE`: cron expression of the sweep that removes expired pending
    /// uploads. Default every five minutes.
    pub cleanup_schedule: String,
    /// `TB_CORS_ORIGINS`: comma-separated origin patterns (one `*` each) that may call the API
    /// and upload to the bucket, besides every tenant's custom domains. Default
    /// `https://*.{TB_BASE_DOMAIN}`.
    pub cors_origins: Vec<String>,
    /// `TB_FILES_{MAX_SIZE,QUOTA,TYPES}_{FREE,PRO,ENTERPRISE}`, in `Plan::ALL`'s order.
    pub plans: [PlanFiles; 3],
}

impl FilesConfig {
    /// The rules of the plan named `plan` (`free`, `pro`, `enterprise`); unknown names get free's.
    pub fn plan(&self, plan: &str) -> &PlanFiles {
        match plan {
            "pro" => &self.plans[1],
            "enterprise" => &self.plans[2],
            _ => &self.plans[0],
        }
    }
}

pub(super) fn storage(get: &impl Fn(&str) -> Option<String>) -> Result<Option<StorageConfig>, ConfigError> {
    let Some(bucket) = get("TB_S3_BUCKET") else {
        if let Some(name) = VARS[..6].iter().find(|name| get(name).is_some() && **name != "TB_S3_REGION") {
            return Err(invalid(name, "is set but TB_S3_BUCKET is not; set the bucket too"));
        }
        return Ok(None);
    };
    let endpoint = get("TB_S3_ENDPOINT").map(|e| e.trim_end_matches('/').to_string());
    if let Some(endpoint) = &endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        return Err(invalid("TB_S3_ENDPOINT", "must be an http:// or https:// URL"));
    }
    let credentials = match (get("TB_S3_ACCESS_KEY_ID"), get("TB_S3_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some((id, SecretString::from(secret))),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "TB_S3_ACCESS_KEY_ID",
                "TB_S3_ACCESS_KEY_ID and TB_S3_SECRET_ACCESS_KEY must be set together (or neither, for the AWS chain)",
            ));
        }
    };
    let force_path_style = match get("TB_S3_FORCE_PATH_STYLE") {
        Some(_) => parse_bool(get, "TB_S3_FORCE_PATH_STYLE")?,
        None => endpoint.is_some(),
    };
    let prefix = get("TB_S3_PREFIX").map(|p| p.trim_matches('/').to_string()).filter(|p| !p.is_empty());
    Ok(Some(StorageConfig {
        endpoint,
        region: get("TB_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        bucket,
        credentials,
        force_path_style,
        prefix,
        create_bucket: parse_bool(get, "TB_S3_CREATE_BUCKET")?,
        manage_cors: parse_flag(get, "TB_S3_MANAGE_CORS", true)?,
    }))
}

pub(super) fn files(get: &impl Fn(&str) -> Option<String>, base_domain: &str) -> Result<FilesConfig, ConfigError> {
    let part_size = parse_number(get, "TB_FILES_PART_SIZE", 16 * MIB)?;
    if part_size < MIN_PART_SIZE {
        return Err(invalid("TB_FILES_PART_SIZE", "must be at least 5242880 (5 MiB), S3's smallest part"));
    }
    let multipart_threshold = parse_number(get, "TB_FILES_MULTIPART_THRESHOLD", 64 * MIB)?;
    if multipart_threshold < MIN_PART_SIZE {
        return Err(invalid("TB_FILES_MULTIPART_THRESHOLD", "must be at least 5242880 (5 MiB)"));
    }
    let upload_expiry = Duration::from_secs(parse_number(get, "TB_FILES_UPLOAD_EXPIRY_SECONDS", 900)?.max(1));
    if upload_expiry > MAX_UPLOAD_EXPIRY {
        return Err(invalid("TB_FILES_UPLOAD_EXPIRY_SECONDS", "must be at most 86400 (one day)"));
    }
    let download_expiry = Duration::from_secs(parse_number(get, "TB_FILES_DOWNLOAD_EXPIRY_SECONDS", 300)?.max(1));
    if download_expiry > MAX_DOWNLOAD_EXPIRY {
        return Err(invalid("TB_FILES_DOWNLOAD_EXPIRY_SECONDS", "must be at most 3600 (one hour)"));
    }
    let cors_origins = match get("TB_CORS_ORIGINS") {
        Some(list) => list.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_ascii_lowercase).collect(),
        None => vec![format!("https://*.{base_domain}")],
    };
    if let Some(bad) = cors_origins.iter().find(|o| !valid_origin_pattern(o)) {
        return Err(invalid(
            "TB_CORS_ORIGINS",
            &format!("`{bad}` is not an origin pattern such as https://*.example.com (one `*` at most, no path)"),
        ));
    }
    let plan = |max_name: &'static str,
                quota_name: &'static str,
                types_name: &'static str,
                max: u64,
                quota: u64|
     -> Result<PlanFiles, ConfigError> {
        let types: Vec<String> = get(types_name)
            .unwrap_or_else(|| DEFAULT_TYPES.into())
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(bad) = types.iter().find(|t| !valid_type_pattern(t)) {
            return Err(invalid(types_name, &format!("`{bad}` is not a media type such as image/png or image/*")));
        }
        Ok(PlanFiles {
            max_size: parse_number(get, max_name, max)?,
            quota: parse_number(get, quota_name, quota)?,
            types,
        })
    };
    Ok(FilesConfig {
        multipart_threshold,
        part_size,
        upload_expiry,
        download_expiry,
        cleanup_schedule: get("TB_FILES_CLEANUP_SCHEDULE").unwrap_or_else(|| "0 */5 * * * *".into()),
        cors_origins,
        plans: [
            plan("TB_FILES_MAX_SIZE_FREE", "TB_FILES_QUOTA_FREE", "TB_FILES_TYPES_FREE", 100 * MIB, GIB)?,
            plan("TB_FILES_MAX_SIZE_PRO", "TB_FILES_QUOTA_PRO", "TB_FILES_TYPES_PRO", 5 * GIB, 100 * GIB)?,
            plan(
                "TB_FILES_MAX_SIZE_ENTERPRISE",
                "TB_FILES_QUOTA_ENTERPRISE",
                "TB_FILES_TYPES_ENTERPRISE",
                50 * GIB,
                1024 * GIB,
            )?,
        ],
    })
}

/// `scheme://host[:port]` with at most one `*`, which stands for one or more labels of the host.
fn valid_origin_pattern(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else { return false };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest.matches('*').count() <= 1
}

/// `type/subtype` or `type/*`, in the characters of RFC 6838 names.
fn valid_type_pattern(media_type: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty() && s.len() <= 127 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match media_type.split_once('/') {
        Some((family, "*")) => name(family),
        Some((family, subtype)) => name(family) && name(subtype),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<FilesConfig, ConfigError> {
        let get = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
        files(&get, "example.com")
    }

    #[test]
    fn plans_allow_exact_types_and_families() {
        let files = config(&[("TB_FILES_TYPES_PRO", "image/*, Text/Plain")]).unwrap();
        let pro = files.plan("pro");
        assert!(pro.allows("image/png") && pro.allows("image/svg+xml") && pro.allows("text/plain"));
        assert!(!pro.allows("text/html") && !pro.allows("imagex/png"));
        assert!(files.plan("free").allows("application/pdf") && !files.plan("free").allows("text/html"));
        assert_eq!(files.cors_origins, ["https://*.example.com"]);
    }

    #[test]
    fn bad_file_settings_are_refused() {
        for vars in [
            [("TB_FILES_PART_SIZE", "1024")],
            [("TB_FILES_UPLOAD_EXPIRY_SECONDS", "604800")],
            [("TB_FILES_TYPES_FREE", "png")],
            [("TB_CORS_ORIGINS", "https://*.a.*.b")],
            [("TB_CORS_ORIGINS", "https://a.example/path")],
        ] {
            assert!(config(&vars).is_err(), "{vars:?}");
        }
    }
}
