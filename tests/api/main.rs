//! The black-box suite: the real app on a random port, a fresh PostgreSQL database per test
//! (cloned from a migrated template, connected as the non-owner runtime role), and HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod activity;
mod auth;
mod cli;
mod collections;
mod confinement;
mod encoded_paths;
mod errors;
mod example_extension;
mod files;
mod files_browser;
mod files_garage;
mod health;
mod hooks;
mod instances;
mod item_indexes;
mod items;
mod items_isolation;
mod items_query;
mod key_rotation;
mod layering;
mod login_protection;
mod openapi;
mod platform_access;
mod postgres_roles;
mod process;
mod query_cache;
mod rate_limits;
mod resolution;
mod roles;
mod row_level_security;
mod schedules;
mod sessions;
mod sqlite;
mod tenant_db;
mod tenant_deletion;
mod tenants;
mod users;
