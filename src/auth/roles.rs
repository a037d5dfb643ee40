//! Roles and the policies that guard routes. A handler names its policy in its signature
//! (`TenantCaller<Editor>`), so no handler can forget its check.

use serde::{Deserialize, Serialize};

/// What a caller may do. Tenant roles apply inside one tenant; `PlatformAdmin` acts as a tenant
/// admin on any tenant and alone may manage tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    Admin,
    Editor,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// A tenant role as stored on a user row.
    pub fn parse_tenant_role(value: &str) -> Option<Role> {
        match value {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A rule about which roles may use a route.
pub trait Policy {
    fn allows(role: Role) -> bool;
}

/// Any member of the tenant (viewers included).
pub struct Member;
/// Members who may write data: editors and admins.
pub struct Editor;
/// Tenant admins (and platform admins acting as one).
pub struct Admin;

impl Policy for Member {
    fn allows(_: Role) -> bool {
        true
    }
}

impl Policy for Editor {
    fn allows(role: Role) -> bool {
        matches!(role, Role::PlatformAdmin | Role::Admin | Role::Editor)
    }
}

impl Policy for Admin {
    fn allows(role: Role) -> bool {
        matches!(role, Role::PlatformAdmin | Role::Admin)
    }
}
