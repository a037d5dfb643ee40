//! The HTTP edge: mounts each resource's routes, sets middleware order, and turns framework
//! errors (bad JSON, bad query, unknown route) into problem+json. actix lives here: handlers
//! parse, call a service with the [`Env`], and shape the response.

mod activity;
mod answer;
mod app;
mod auth;
pub mod client_ip;
mod collections;
pub mod extract;
mod files;
mod health;
mod items;
pub mod middleware;
mod openapi;
mod problem;
mod response;
mod tenant;
mod tenants;
mod users;

pub use app::app;
pub(crate) use response::created;
pub use response::{Data, List, ListMeta, PageQuery};
