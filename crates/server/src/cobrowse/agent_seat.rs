//! The agent's seat in a session: joining by code (rate-limited, single
//! use), coming back after a reload, leaving, and what the agent's view may
//! send the page, checked against what the visitor allowed.

use std::time::Instant;

use tokio::sync::mpsc;

use super::{AGENT_OUTBOX, AgentSeat, CobrowseError, Hub, Out, Session, board, frames, watch};
use crate::{
    ids::{ContactId, TenantId, UserId},
    protocol::{FrameError, encode},
};
use frames::{FromAgent, ToAgent, ToVisitor};

impl Hub {
    /// An agent keys a code: the session's page is asked to let them in.
    pub(super) fn agent_join(
        &self,
        tenant: TenantId,
        user: UserId,
        name: &str,
        code: &str,
        contact: Option<ContactId>,
    ) -> Result<(String, u64, mpsc::Receiver<Out>, ToAgent), CobrowseError> {
        let now = Instant::now();
        if !self
            .agent_joins
            .check(&format!("{}:{}", tenant.0, user.0), now)
            || !self.tenant_joins.check(&tenant.0.to_string(), now)
        {
            metrics::counter!("switchboard_cobrowse_joins_refused_total", "reason" => "rate")
                .increment(1);
            return Err(CobrowseError::TooManyAttempts);
        }
        let mut sessions = self.lock();
        let Some(id) = sessions.codes.remove(&(tenant, code.to_owned())) else {
            metrics::counter!("switchboard_cobrowse_joins_refused_total", "reason" => "code")
                .increment(1);
            return Err(CobrowseError::NoSuchCode);
        };
        let (seat, rx) = self.seat(AGENT_OUTBOX);
        let conn = seat.conn;
        let s = sessions
            .by_id
            .get_mut(&id)
            .ok_or(CobrowseError::NoSuchCode)?;
        let expired = s.code.as_ref().is_none_or(|(_, at)| *at <= now);
        s.code = None;
        if expired || s.tenant != tenant {
            return Err(CobrowseError::NoSuchCode);
        }
        if s.agent.is_some() {
            return Err(CobrowseError::Taken);
        }
        if contact.is_some() {
            s.contact = contact;
        }
        s.agent = Some(AgentSeat {
            user,
            name: name.to_owned(),
            seat: Some(seat),
            away_since: None,
        });
        s.tell_visitor(&ToVisitor::JoinRequest {
            agent_name: name.to_owned(),
        });
        let joined = ToAgent::Joined {
            session: id.clone(),
            origin: s.origin.clone(),
            asset_origins: Vec::new(),
        };
        Ok((id, conn, rx, joined))
    }

    /// An agent's view comes back to a session it holds (a console reload):
    /// the page is asked for a fresh snapshot.
    pub(super) fn agent_watch(
        &self,
        tenant: TenantId,
        user: UserId,
        id: &str,
    ) -> Result<(u64, mpsc::Receiver<Out>, ToAgent), CobrowseError> {
        let (seat, rx) = self.seat(AGENT_OUTBOX);
        let conn = seat.conn;
        let mut sessions = self.lock();
        let s = sessions
            .by_id
            .get_mut(id)
            .filter(|s| s.tenant == tenant)
            .ok_or(CobrowseError::UnknownSession)?;
        let Some(agent) = s.agent.as_mut().filter(|a| a.user == user) else {
            return Err(CobrowseError::UnknownSession);
        };
        if let Some(old) = agent.seat.replace(seat) {
            let _ = old
                .tx
                .try_send(Out::End(encode(&ToAgent::Ended { reason: "replaced" })));
        }
        agent.away_since = None;
        // A new view: its first pointer move is listed again.
        s.pointed = false;
        let reply = if s.sharing {
            // The page at once from the replay, else a fresh snapshot.
            let whole = s
                .agent
                .as_ref()
                .and_then(|a| a.seat.as_ref())
                .is_some_and(|seat| watch::replay_to(&s.replay, &s.board, seat, AGENT_OUTBOX - 16));
            if !whole {
                s.stale = true;
                s.tell_visitor(&ToVisitor::SnapshotRequest);
            }
            ToAgent::Sharing {
                session: id.to_owned(),
                contact: s.contact.map(|c| c.0),
                asset_origins: Vec::new(),
            }
        } else {
            ToAgent::Joined {
                session: id.to_owned(),
                origin: s.origin.clone(),
                asset_origins: Vec::new(),
            }
        };
        Ok((conn, rx, reply))
    }

    /// A frame from the agent's view for the page, checked against what the
    /// visitor allowed.
    pub(super) fn agent_frame(
        &self,
        id: &str,
        conn: u64,
        frame: FromAgent,
    ) -> Result<(), FrameError> {
        let mut sessions = self.lock();
        let s = sessions
            .by_id
            .get_mut(id)
            .ok_or(CobrowseError::UnknownSession)?;
        let Some(agent) = s
            .agent
            .as_ref()
            .filter(|a| a.seat.as_ref().is_some_and(|v| v.conn == conn))
        else {
            return Err(CobrowseError::UnknownSession.into());
        };
        let agent_name = agent.name.clone();
        if matches!(frame, FromAgent::Leave) {
            s.end_agent("left");
            s.tell_visitor(&ToVisitor::Ended {
                reason: "agent_left",
            });
            return Ok(());
        }
        if !s.sharing {
            return Err(CobrowseError::NotSharing.into());
        }
        let change = match frame {
            FromAgent::Draw { shape } => board::Change::Draw(shape),
            FromAgent::Clear => board::Change::Clear,
            FromAgent::Board { show, blank } => board::Change::Show { show, blank },
            other => return s.relay_action(other, agent_name),
        };
        s.board_change(board::Side::Agent, change)
    }
}

impl Session {
    /// An agent's action on the page (not the whiteboard), checked against
    /// what the visitor allowed, listed in the record and sent to the page.
    fn relay_action(&mut self, frame: FromAgent, agent_name: String) -> Result<(), FrameError> {
        let out = match frame {
            FromAgent::Pointer { x, y } => {
                if !std::mem::replace(&mut self.pointed, true) {
                    self.note("agent", "pointer", String::new());
                }
                ToVisitor::AgentPointer { x, y }
            }
            FromAgent::Highlight { id } => {
                self.note("agent", "highlight", id.to_string());
                ToVisitor::Highlight { id }
            }
            FromAgent::Push { url } => {
                let url = frames::push_url(&url, &self.origin)?;
                self.note("agent", "push", url.clone());
                ToVisitor::Push { url }
            }
            FromAgent::ControlRequest => {
                self.note("agent", "control_request", String::new());
                ToVisitor::ControlRequest { agent_name }
            }
            FromAgent::Click { id } if self.control => {
                self.note("agent", "click", id.to_string());
                ToVisitor::Click { id }
            }
            // The field, never what was typed: a value may be personal.
            FromAgent::Input { id, value } if self.control => {
                if self.filled.replace(id) != Some(id) {
                    self.note("agent", "fill", id.to_string());
                }
                ToVisitor::Input { id, value }
            }
            FromAgent::Click { .. } | FromAgent::Input { .. } => {
                return Err(CobrowseError::NoControl.into());
            }
            FromAgent::Join { .. }
            | FromAgent::Watch { .. }
            | FromAgent::Leave
            | FromAgent::Ping
            | FromAgent::Draw { .. }
            | FromAgent::Clear
            | FromAgent::Board { .. }
            | FromAgent::Sessions
            | FromAgent::Supervise { .. } => {
                return Ok(());
            }
        };
        self.tell_visitor(&out);
        Ok(())
    }
}

impl Hub {
    /// The agent's view closed; the session waits [`GRACE`] for it.
    pub(super) fn agent_gone(&self, id: &str, conn: u64) {
        let mut sessions = self.lock();
        if let Some(agent) = sessions
            .by_id
            .get_mut(id)
            .and_then(|s| s.agent.as_mut())
            .filter(|a| a.seat.as_ref().is_some_and(|v| v.conn == conn))
        {
            agent.seat = None;
            agent.away_since = Some(Instant::now());
        }
    }
}
