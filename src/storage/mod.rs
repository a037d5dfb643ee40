//! The object store (API.md "Files"): an S3 client for one bucket, the keys of tenants' files
//! under it, and presigned URLs for browsers to upload and download with. Signing is local, so
//! presigning works while the store is down; every call that reaches the store says, when it
//! fails, whether the store is unreachable (503) or refused the request.

mod disposition;

use std::time::Duration;

use aws_sdk_s3::{
    Client,
    config::{
        Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation, http::HttpResponse,
        retry::RetryConfig, timeout::TimeoutConfig,
    },
    error::{ProvideErrorMetadata, SdkError},
    presigning::{PresignedRequest, PresigningConfig},
    types::{CompletedMultipartUpload, CompletedPart, CorsConfiguration, CorsRule, Delete, ObjectIdentifier},
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use secrecy::ExposeSecret;
use serde::Serialize;
use uuid::Uuid;

pub use disposition::{content_disposition, shows_inline};

use crate::{
    config::{FilesConfig, StorageConfig},
    error::{Code, Error},
};

/// Most keys one `DeleteObjects` call takes (S3's limit).
const DELETE_BATCH: usize = 1000;

/// Why a call to the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store could not be reached, timed out, or failed on its side (5xx).
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// The object (or upload) does not exist.
    #[error("no such object")]
    NotFound,
    /// The store refused the request (4xx other than 404).
    #[error("object store refused the request ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
    /// The request could not be built (a bug or a bad configuration).
    #[error("object store request failed: {0}")]
    Internal(String),
}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Error {
        match error {
            StorageError::Unavailable(cause) => {
                tracing::warn!(%cause, "object store unavailable");
                Error::new(Code::StorageUnavailable, "The file store cannot be reached; try again shortly.")
            }
            other => Error::internal(other),
        }
    }
}

/// A URL the client calls with exactly these headers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Presigned {
    pub url: String,
    /// Headers the request must carry (they are part of the signature).
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
}

impl From<PresignedRequest> for Presigned {
    fn from(request: PresignedRequest) -> Presigned {
        let headers = request
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_ascii_lowercase(), serde_json::Value::from(value)))
            .collect();
        Presigned { url: request.uri().to_string(), headers }
    }
}

/// What the store holds at a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// The store, when one is configured, and the rules files follow. Cheap to clone.
#[derive(Clone, Debug)]
pub struct FileStore {
    storage: Option<Storage>,
    manage_cors: bool,
    rules: std::sync::Arc<FilesConfig>,
}

impl FileStore {
    pub fn new(storage: Option<Storage>, manage_cors: bool, rules: FilesConfig) -> FileStore {
        FileStore { storage, manage_cors, rules: std::sync::Arc::new(rules) }
    }

    /// The store, or 503 `storage_not_configured`.
    pub fn storage(&self) -> Result<&Storage, Error> {
        self.storage.as_ref().ok_or_else(|| {
            Error::new(Code::StorageNotConfigured, "File storage is not configured on this server (TB_S3_BUCKET).")
        })
    }

    /// The store if one is configured.
    pub fn configured(&self) -> Option<&Storage> {
        self.storage.as_ref()
    }

    pub fn rules(&self) -> &FilesConfig {
        &self.rules
    }

    /// Whether the bucket's CORS rules are ours to keep (`TB_S3_MANAGE_CORS`).
    pub fn manages_cors(&self) -> bool {
        self.manage_cors
    }
}

/// One bucket of an S3-compatible store.
#[derive(Clone, Debug)]
pub struct Storage {
    client: Client,
    bucket: String,
    /// `{TB_S3_PREFIX}/`, or empty.
    prefix: String,
}

impl Storage {
    /// A client for the configured bucket; with `create_bucket`, creates it when missing. Only
    /// that touches the store: a store that is down at startup is reported by the file routes.
    pub async fn connect(config: &StorageConfig) -> Result<Storage, StorageError> {
        // rustls with ring: the SDK's default client would build aws-lc, which needs cmake.
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(config.region.clone()));
        if let Some((id, secret)) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret.expose_secret(),
                None,
                None,
                "TB_S3_ACCESS_KEY_ID",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.force_path_style)
            // A presigned PUT must not ask the browser for a checksum header it cannot compute.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .operation_timeout(Duration::from_secs(45))
                    .build(),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let prefix = config.prefix.as_ref().map(|p| format!("{p}/")).unwrap_or_default();
        let storage = Storage { client: Client::from_conf(builder.build()), bucket: config.bucket.clone(), prefix };
        if config.create_bucket {
            storage.ensure_bucket().await?;
        }
        Ok(storage)
    }

    /// The key of a tenant's file: `{prefix}/{tenant_id}/{file_id}`. Nothing a client sends is
    /// part of it.
    pub fn key(&self, tenant: Uuid, file: Uuid) -> String {
        format!("{}{tenant}/{file}", self.prefix)
    }

    /// Everything of one tenant is under this prefix.
    pub fn tenant_prefix(&self, tenant: Uuid) -> String {
        format!("{}{tenant}/", self.prefix)
    }

    async fn ensure_bucket(&self) -> Result<(), StorageError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await.map_err(classify) {
            Err(StorageError::NotFound) => {
                self.client.create_bucket().bucket(&self.bucket).send().await.map_err(classify)?;
                tracing::info!(bucket = %self.bucket, "created the file bucket");
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// A PUT of exactly `size` bytes of `content_type` to `key`, valid for `expires_in`.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<Presigned, StorageError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(to_i64(size)?)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(classify)?;
        Ok(request.into())
    }

    /// Starts a multipart upload; its id names it in the part URLs and the complete call.
    pub async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(classify)?;
        created.upload_id.ok_or_else(|| StorageError::Internal("the store gave no upload id".into()))
    }

    /// A PUT of part `number` (from 1), exactly `size` bytes.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        size: u64,
        expires_in: Duration,
    ) -> Result<Presigned, StorageError> {
        let number = i32::try_from(number).map_err(|_| StorageError::Internal("part number out of range".into()))?;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(to_i64(size)?)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(classify)?;
        Ok(request.into())
    }

    /// Joins the uploaded parts (`(number, etag)`, in order) into the object.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), StorageError> {
        let parts = parts
            .iter()
            .map(|(number, etag)| {
                CompletedPart::builder().part_number(i32::try_from(*number).unwrap_or(i32::MAX)).e_tag(etag).build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Abandons a multipart upload and the parts stored for it; one already gone is fine.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        let aborted =
            self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send().await;
        match aborted.map_err(classify) {
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The size and type of the object at `key`, or `None` when there is none.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await.map_err(classify) {
            Ok(head) => Ok(Some(ObjectInfo {
                size: head.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or_default(),
                content_type: head.content_type,
            })),
            Err(StorageError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The first `count` bytes of the object (fewer when it is shorter).
    pub async fn first_bytes(&self, key: &str, count: usize) -> Result<Vec<u8>, StorageError> {
        let range = format!("bytes=0-{}", count.saturating_sub(1));
        let object =
            self.client.get_object().bucket(&self.bucket).key(key).range(range).send().await.map_err(classify)?;
        let body = object.body.collect().await.map_err(|e| StorageError::Unavailable(e.to_string()))?;
        let mut bytes = body.into_bytes().to_vec();
        bytes.truncate(count);
        Ok(bytes)
    }

    /// Deletes the object at `key`; one already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(classify) {
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Deletes every object under `prefix`, a thousand per call, and returns how many. Safe to
    /// run again after a failure: it starts over from what is left.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        self.abort_uploads_under(prefix).await?;
        let mut deleted = 0;
        loop {
            let listed = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(DELETE_BATCH as i32)
                .send()
                .await
                .map_err(classify)?;
            let keys: Vec<ObjectIdentifier> = listed
                .contents()
                .iter()
                .filter_map(|object| object.key())
                .filter(|key| key.starts_with(prefix))
                .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
                .collect();
            if keys.is_empty() {
                return Ok(deleted);
            }
            let count = keys.len() as u64;
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| StorageError::Internal(e.to_string()))?;
            let outcome =
                self.client.delete_objects().bucket(&self.bucket).delete(delete).send().await.map_err(classify)?;
            if let Some(failed) = outcome.errors().first() {
                return Err(StorageError::Unavailable(format!(
                    "could not delete {}: {}",
                    failed.key().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                )));
            }
            deleted += count;
        }
    }

    /// Aborts every unfinished multipart upload under `prefix`. A store that cannot list them
    /// (501) has none to abort that we could know of.
    async fn abort_uploads_under(&self, prefix: &str) -> Result<(), StorageError> {
        // Bounded: a store that keeps listing what it says it aborted must not hold us forever.
        for _ in 0..1000 {
            let listed = match self.client.list_multipart_uploads().bucket(&self.bucket).prefix(prefix).send().await {
                Ok(listed) => listed,
                Err(error) => {
                    return match classify(error) {
                        StorageError::NotFound => Ok(()),
                        StorageError::Unavailable(cause) if cause.starts_with("501 ") => Ok(()),
                        other => Err(other),
                    };
                }
            };
            let uploads = listed.uploads();
            if uploads.is_empty() {
                return Ok(());
            }
            for upload in uploads {
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id())
                    && key.starts_with(prefix)
                {
                    self.abort_multipart(key, id).await?;
                }
            }
        }
        Err(StorageError::Unavailable(format!("multipart uploads under {prefix} do not go away")))
    }

    /// A GET of the object at `key` for `expires_in`, answered with this `Content-Disposition`
    /// and `Content-Type`.
    pub async fn presign_get(
        &self,
        key: &str,
        disposition: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<Presigned, StorageError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(disposition)
            .response_content_type(content_type)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(classify)?;
        Ok(request.into())
    }

    /// Replaces the bucket's CORS rules with one that lets `origins` PUT (with any header: the
    /// signature says which ones count), GET and HEAD, and read the `ETag` a multipart upload
    /// needs.
    pub async fn set_cors(&self, origins: &[String]) -> Result<(), StorageError> {
        let build = |e: aws_sdk_s3::error::BuildError| StorageError::Internal(e.to_string());
        let rule = CorsRule::builder()
            .id("tenantbase")
            .set_allowed_origins(Some(origins.to_vec()))
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()
            .map_err(build)?;
        let cors = CorsConfiguration::builder().cors_rules(rule).build().map_err(build)?;
        self.client.put_bucket_cors().bucket(&self.bucket).cors_configuration(cors).send().await.map_err(classify)?;
        Ok(())
    }
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(expires_in).map_err(|e| StorageError::Internal(e.to_string()))
}

fn to_i64(size: u64) -> Result<i64, StorageError> {
    i64::try_from(size).map_err(|_| StorageError::Internal("size out of range".into()))
}

/// What a failed SDK call means for us: a store we could not reach (or that failed itself) is
/// unavailable, a 404 is a missing object, any other answer is a refusal.
fn classify<E>(error: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let status = Some(service.raw().status().as_u16());
            let err = service.err();
            let code = err.code().unwrap_or("unknown").to_string();
            let message = err.message().unwrap_or_default().to_string();
            match status {
                Some(404) => StorageError::NotFound,
                Some(status) if status >= 500 => StorageError::Unavailable(format!("{status} {code}: {message}")),
                _ if code == "NoSuchKey" || code == "NoSuchUpload" || code == "NotFound" => StorageError::NotFound,
                status => StorageError::Refused { status: status.unwrap_or_default(), code, message },
            }
        }
        SdkError::ConstructionFailure(_) => StorageError::Internal(format!("{error:?}")),
        _ => StorageError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(&error).to_string()),
    }
}
