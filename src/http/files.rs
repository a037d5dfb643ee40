//! `/api/files…`: presigned uploads, completion, metadata, downloads and deletion. Members read,
//! editors and admins upload and delete. The bytes never pass through here.

use actix_web::{HttpRequest, HttpResponse, delete, get, http::header::LOCATION, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_actix_web::{scope, service_config::ServiceConfig};
use uuid::Uuid;

use super::{Data, List, answer};
use crate::{
    auth::roles::{Editor, Member},
    error::{Code, Error, Problem},
    http::extract::TenantCaller,
    services::{
        Env,
        files::{self, Completion, Download, NewFile, Upload},
        item_query::ListParams,
    },
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/api/files")
            .service(list)
            .service(create)
            .service(read)
            .service(complete)
            .service(download)
            .service(remove),
    );
}

/// A file: `{"id","filename","content_type","size","status","date_created","user_created"}`;
/// `status` is `pending` until `complete`, then `ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct File(Value);

/// A new file and how to upload its bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Presigned {
    pub data: File,
    pub upload: Upload,
}

/// A file id from the path; anything that is not a UUID names no file.
fn file_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::new(Code::FileNotFound, "No such file."))
}

/// Sign an upload: checks size, type and quota, records the file `pending`, and answers the URL
/// (or, above the multipart threshold, the part URLs) to upload to.
#[utoipa::path(
    tag = "files", security(("bearer" = [])), request_body = NewFile,
    responses(
        (status = 201, body = Presigned),
        (status = 403, description = "`storage_quota_exceeded`, `forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`file_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_not_configured`, `storage_unavailable`", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("")]
async fn create(caller: TenantCaller<Editor>, env: Env, body: web::Json<NewFile>) -> Result<HttpResponse, Error> {
    let presign = files::presign(&env, &caller.tenant, &caller.caller, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(Presigned { data: File(presign.file), upload: presign.upload }))
}

/// Mark an uploaded file ready once the store holds it as declared (a multipart upload sends
/// its parts' `ETag`s). Idempotent.
#[utoipa::path(
    tag = "files", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body(content = Option<Completion>),
    responses(
        (status = 200, body = Data<File>),
        (status = 404, description = "`file_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`upload_incomplete`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`content_mismatch`, `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/{id}/complete")]
async fn complete(
    caller: TenantCaller<Editor>,
    env: Env,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let id = file_id(&id)?;
    let completion = if body.iter().all(u8::is_ascii_whitespace) {
        Completion::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::new(Code::InvalidJson, format!("The body is not a completion: {e}")))?
    };
    let file = files::complete(&env, &caller.tenant, &caller.caller, id, completion).await?;
    Ok(HttpResponse::Ok().json(Data { data: File(file) }))
}

/// The tenant's files, newest first; `filter`, `sort`, `fields`, `limit`, `offset`, `meta` as for
/// items, over the file's members.
#[utoipa::path(
    tag = "files", security(("bearer" = [])), params(ListParams),
    responses(
        (status = 200, body = List<File>),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("")]
async fn list(
    caller: TenantCaller<Member>,
    env: Env,
    params: web::Query<ListParams>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let params = params.into_inner();
    let answer = files::list_answer(&env, &caller.tenant, &caller.caller, params, answer::list_answer).await?;
    Ok(answer::respond(&req, &answer))
}

/// One file's metadata.
#[utoipa::path(
    tag = "files", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Data<File>),
        (status = 404, description = "`file_not_found`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/{id}")]
async fn read(
    caller: TenantCaller<Member>,
    env: Env,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let id = file_id(&id)?;
    let answer =
        files::get_answer(&env, &caller.tenant, &caller.caller, id, |file| answer::digest_answer(File(file))).await?;
    Ok(answer::respond(&req, &answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DownloadQuery {
    /// `false`: answer the URL as JSON instead of redirecting to it.
    redirect: Option<bool>,
}

/// A short-lived download URL: `307` to it, or with `?redirect=false` the URL as JSON.
#[utoipa::path(
    tag = "files", security(("bearer" = [])), params(("id" = Uuid, Path), DownloadQuery),
    responses(
        (status = 200, body = Data<Download>), (status = 307, description = "Redirect to the signed URL"),
        (status = 404, description = "`file_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`upload_incomplete`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/{id}/download")]
async fn download(
    caller: TenantCaller<Member>,
    env: Env,
    id: web::Path<String>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, Error> {
    let download = files::download(&env, &caller.tenant, &caller.caller, file_id(&id)?).await?;
    Ok(match query.redirect {
        Some(false) => HttpResponse::Ok().json(Data { data: download }),
        _ => HttpResponse::TemporaryRedirect().insert_header((LOCATION, download.url)).finish(),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// `true`: clear the references of items to the file, then delete it.
    force: Option<bool>,
}

/// Delete a file and its object. While items refer to it: 409 `file_in_use` unless `?force=true`.
#[utoipa::path(
    tag = "files", security(("bearer" = [])), params(("id" = Uuid, Path), DeleteQuery),
    responses(
        (status = 204, description = "Deleted, object included"),
        (status = 404, description = "`file_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`file_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/{id}")]
async fn remove(
    caller: TenantCaller<Editor>,
    env: Env,
    id: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, Error> {
    let force = query.force.unwrap_or(false);
    files::delete(&env, &caller.tenant, &caller.caller, file_id(&id)?, force).await?;
    Ok(HttpResponse::NoContent().finish())
}
