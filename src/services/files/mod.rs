//! Files (API.md "Files"): uploads straight to the object store with URLs we sign, per tenant,
//! within the plan's size, types and quota; records kept as items of the tenant's system
//! collection `tb_files`; downloads as short-lived signed URLs; removal with the object.
//!
//! A file is `pending` from `POST /api/files` until `complete` finds its object as declared,
//! then `ready`. Keys are `{prefix}/{tenant_id}/{file_id}`: made here, never from client input.

mod access;
mod content;
mod cors;
mod record;
mod removal;
mod upload;

pub use access::{Download, download, get, get_answer, list, list_answer};
pub use cors::sync_bucket_cors;
pub(crate) use record::usage;
pub(crate) use removal::{check_file_fields, purge_objects};
pub use removal::{delete, sweep_expired};
pub use upload::{Completion, NewFile, PartUrl, Presign, Upload, UploadedPart, complete, presign};
