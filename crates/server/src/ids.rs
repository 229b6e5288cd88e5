//! Newtype ids, so the compiler keeps a tenant apart from a user apart from a
//! contact. The routing ids come from the ACD core, which uses the database ids.

use serde::{Deserialize, Serialize};

pub use acd::{AgentId, ContactId, QueueId, SkillId};

/// A tenant (merchant). Every query is scoped by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub i64);

/// A staff member (agent, supervisor, admin). The same number is their `AgentId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl UserId {
    pub fn agent(self) -> AgentId {
        AgentId(self.0)
    }
}

/// A click-to-contact link (sales, support, ...): what a widget points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkId(pub i64);

// The SIP agent carries the tenant a trunk belongs to in its own type (it
// knows nothing of the server).
impl From<TenantId> for sip::TenantId {
    fn from(id: TenantId) -> Self {
        sip::TenantId(id.0)
    }
}

impl From<sip::TenantId> for TenantId {
    fn from(id: sip::TenantId) -> Self {
        TenantId(id.0)
    }
}
