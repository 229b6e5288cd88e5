//! A callback's time, as the visitor and the supervisor change it (issue 14
//! items 1 and 5): the slots a link offers, the checks a requested time
//! passes, moving a waiting or scheduled callback in the routing core and
//! the record, cancelling it, and what the visitor is told about it
//! (`callback_scheduled` with the signed manage link, `callback_status` as
//! it moves in line).
//!
//! The same checks serve the widget's first request, its later changes, the
//! manage page and the supervisor's reschedule, so a time refused in one is
//! refused in all.

use serde::Serialize;
use tokio::sync::oneshot;

use super::super::{ConnId, Desk, DeskState, DeskStopped, Phase, Request, now};
use crate::{
    callback_link::{self, ManageToken},
    ids::{ContactId, QueueId, TenantId},
    phone::country::country_code,
    protocol::{ErrorCode, FrameError, ToVisitor},
    store::{ContactWrite, Sender, TenantCalls},
};

/// Longest reason a visitor gives for a callback (characters): a line the
/// agent reads at a glance.
const MAX_REASON_CHARS: usize = 200;
/// Slots are this far apart.
const SLOT_MS: i64 = 30 * 60_000;
/// The first slot is at least this far ahead, so the visitor has time to
/// pick it before it passes.
const SLOT_LEAD_MS: i64 = 10 * 60_000;
/// The widget offers slots for this many days (fewer when the tenant's
/// horizon is shorter).
const SLOT_DAYS: u32 = 7;
const DAY_MS: i64 = 86_400_000;

/// What a visitor or supervisor asks about one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackAction {
    /// Where it stands, with the slots it could move to.
    View,
    /// Move it to `at` (Unix ms), or to as soon as possible.
    Reschedule {
        at: Option<i64>,
    },
    Cancel,
}

/// Who is asking: the record says who cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    Visitor,
    Supervisor,
}

/// A callback as the manage page and the REST API show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CallbackView {
    pub contact: i64,
    /// Masked (`+44 ••••••••23`).
    pub phone: String,
    /// `scheduled`, `waiting`, `in_progress` or `cancelled`.
    pub state: &'static str,
    /// When it is due (Unix ms): its scheduled time, else when it was asked.
    pub at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
    /// Times it may move to (Unix ms).
    pub slots: Vec<i64>,
}

/// Why a callback cannot be shown or changed; the messages are for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("there is no waiting callback here; it may have been made, cancelled or ended")]
    NotFound,
    #[error("an agent is calling you now; it can no longer be changed")]
    InProgress,
    #[error("{0}")]
    Refused(String),
}

/// The desk's half of a `Request::Callback`.
pub(crate) struct CallbackRequest {
    tenant: TenantId,
    contact: ContactId,
    action: CallbackAction,
    by: ChangedBy,
    reply: oneshot::Sender<Result<CallbackView, ScheduleError>>,
}

impl Desk {
    /// Shows, moves or cancels one callback of `tenant`.
    pub async fn callback(
        &self,
        tenant: TenantId,
        contact: ContactId,
        action: CallbackAction,
        by: ChangedBy,
    ) -> Result<Result<CallbackView, ScheduleError>, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Callback(Box::new(CallbackRequest {
            tenant,
            contact,
            action,
            by,
            reply,
        })))
        .await?;
        rx.await.map_err(|_| DeskStopped)
    }
}

impl DeskState {
    pub(in crate::desk) fn callback_request(&mut self, request: CallbackRequest) {
        let CallbackRequest {
            tenant,
            contact,
            action,
            by,
            reply,
        } = request;
        let _ = reply.send(self.change_callback(tenant, contact, action, by));
    }

    fn change_callback(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        action: CallbackAction,
        by: ChangedBy,
    ) -> Result<CallbackView, ScheduleError> {
        let live = self
            .contacts
            .get(contact)
            .filter(|c| c.tenant == tenant && c.callback_phone.is_some())
            .ok_or(ScheduleError::NotFound)?;
        let changeable = live.phase == Phase::Waiting;
        match action {
            CallbackAction::View => {}
            _ if !changeable => return Err(ScheduleError::InProgress),
            CallbackAction::Cancel => {
                let view = self.callback_view(contact).ok_or(ScheduleError::NotFound)?;
                self.cancel_by(tenant, contact, by);
                return Ok(CallbackView {
                    state: "cancelled",
                    position: None,
                    wait_seconds: None,
                    slots: Vec::new(),
                    ..view
                });
            }
            CallbackAction::Reschedule { at } => {
                self.reschedule_callback(contact, at)
                    .map_err(|e| ScheduleError::Refused(e.message))?;
            }
        }
        self.callback_view(contact).ok_or(ScheduleError::NotFound)
    }

    /// Cancels a waiting callback; the record says who did.
    fn cancel_by(&mut self, tenant: TenantId, contact: ContactId, by: ChangedBy) {
        let text = match by {
            ChangedBy::Visitor => "Callback cancelled by visitor",
            ChangedBy::Supervisor => "Callback cancelled by supervisor",
        };
        // Written before the end, in the contact's lane, so the record
        // shows why it ended.
        self.writer.write(ContactWrite::Message {
            tenant,
            contact,
            from: Sender::System,
            text: text.to_owned(),
        });
        self.cancel_callback(tenant, contact);
    }

    /// Moves a waiting callback to `at` (checked as a new request's time),
    /// in the routing core and in the record.
    fn reschedule_callback(
        &mut self,
        contact: ContactId,
        at: Option<i64>,
    ) -> Result<(), FrameError> {
        let Some(live) = self.contacts.get(contact) else {
            return Ok(());
        };
        let (tenant, queue) = (live.tenant, live.link.queue);
        let policy = self
            .tenants
            .row(tenant)
            .map(|t| t.calls.clone())
            .unwrap_or_default();
        if let Some(at) = at {
            self.check_slot(tenant, queue, &policy, at)?;
        }
        let now_ms = now().as_millis();
        let Some(live) = self.contacts.get_mut(contact) else {
            return Ok(());
        };
        if let Some(request) = live.routing.callback.as_mut() {
            request.not_before = at;
        }
        let routing_json = serde_json::to_string(&live.routing).unwrap_or_default();
        self.writer.write(ContactWrite::Callback {
            tenant,
            contact,
            routing_json,
        });
        self.acd.handle_input(
            now(),
            acd::Input::Reschedule {
                contact,
                at: acd::Time(at.unwrap_or(now_ms)),
            },
        );
        metrics::counter!("switchboard_callbacks_rescheduled_total").increment(1);
        Ok(())
    }

    /// Whether a callback may be booked at `at`: not in the past, within the
    /// tenant's horizon, while a center serving the queue is open.
    pub(in crate::desk) fn check_slot(
        &self,
        tenant: TenantId,
        queue: QueueId,
        policy: &TenantCalls,
        at: i64,
    ) -> Result<(), FrameError> {
        let now_ms = now().as_millis();
        let refuse = |reason: &'static str, message: String| {
            metrics::counter!("switchboard_callbacks_refused_total", "reason" => reason)
                .increment(1);
            Err(FrameError::new(ErrorCode::Invalid, message))
        };
        if at <= now_ms {
            return refuse(
                "past",
                "that time has passed; pick a time still to come".to_owned(),
            );
        }
        let horizon = i64::from(policy.callback_horizon_days) * DAY_MS;
        if at > now_ms + horizon {
            return refuse(
                "horizon",
                format!(
                    "pick a time within the next {} days",
                    policy.callback_horizon_days
                ),
            );
        }
        let calendars = self.tenants.queue_calendars(tenant, queue);
        if !calendars.is_empty() && !calendars.iter().any(|c| c.is_open(acd::Time(at))) {
            return refuse(
                "closed",
                "we are closed then; pick a time when we are open".to_owned(),
            );
        }
        Ok(())
    }

    /// The times a callback on `queue` may be booked at: every half hour
    /// while a center serving it is open, over the next days.
    pub(in crate::desk) fn callback_slots(
        &self,
        tenant: TenantId,
        queue: QueueId,
        policy: &TenantCalls,
    ) -> Vec<i64> {
        let now_ms = now().as_millis();
        let days = policy.callback_horizon_days.min(SLOT_DAYS);
        let end = now_ms + i64::from(days) * DAY_MS;
        let first = (now_ms + SLOT_LEAD_MS).div_euclid(SLOT_MS) * SLOT_MS + SLOT_MS;
        let calendars = self.tenants.queue_calendars(tenant, queue);
        let count = ((end - first).div_euclid(SLOT_MS) + 1).max(0);
        (0..count)
            .map(|i| first + i * SLOT_MS)
            .filter(|t| calendars.is_empty() || calendars.iter().any(|c| c.is_open(acd::Time(*t))))
            .collect()
    }

    /// Where a live callback stands.
    fn callback_view(&self, contact: ContactId) -> Option<CallbackView> {
        let live = self.contacts.get(contact)?;
        let phone = live.callback_phone.as_deref()?;
        let view = self.acd.contact(contact);
        let (state, at) = match view.as_ref().map(|v| v.stage) {
            Some(acd::ContactStage::Scheduled { at }) => ("scheduled", at.as_millis()),
            Some(acd::ContactStage::Waiting) => (
                "waiting",
                live.routing
                    .callback
                    .as_ref()
                    .and_then(|c| c.not_before)
                    .unwrap_or_else(|| now().as_millis()),
            ),
            _ => ("in_progress", now().as_millis()),
        };
        let policy = self
            .tenants
            .row(live.tenant)
            .map(|t| t.calls.clone())
            .unwrap_or_default();
        let slots = if state == "in_progress" {
            Vec::new()
        } else {
            self.callback_slots(live.tenant, live.link.queue, &policy)
        };
        Some(CallbackView {
            contact: contact.0,
            phone: callback_link::masked(phone),
            state,
            at,
            position: view.as_ref().and_then(|v| v.position),
            wait_seconds: view.as_ref().and_then(|v| v.wait).map(|w| w.as_secs()),
            slots,
        })
    }

    /// The path of `contact`'s signed manage page, valid until a while after
    /// its time.
    fn manage_path(&self, tenant: TenantId, contact: ContactId, at: i64) -> String {
        let token = self.config.callback_links.sign(ManageToken {
            tenant,
            contact,
            expires_ms: at.max(now().as_millis()) + callback_link::VALID_AFTER_MS,
        });
        format!("/callback/{token}")
    }

    /// What the visitor is told once their callback is stored or moved.
    pub(in crate::desk) fn callback_scheduled(&self, contact: ContactId, at: i64) -> ToVisitor {
        let tenant = self.contacts.get(contact).map_or(TenantId(0), |c| c.tenant);
        let view = self.acd.contact(contact);
        ToVisitor::CallbackScheduled {
            at,
            manage: self.manage_path(tenant, contact, at),
            position: view.as_ref().and_then(|v| v.position),
            wait_seconds: view.as_ref().and_then(|v| v.wait).map(|w| w.as_secs()),
        }
    }

    /// A callback moved in line: the visitor's open tabs on its link (free
    /// to chat, so not the contact's) hear where it stands.
    pub(in crate::desk) fn callback_moved(
        &mut self,
        contact: ContactId,
        position: u32,
        wait: std::time::Duration,
    ) {
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        if live.callback_phone.is_none() {
            return;
        }
        let at = live
            .routing
            .callback
            .as_ref()
            .and_then(|c| c.not_before)
            .unwrap_or_else(|| now().as_millis());
        let frame = ToVisitor::CallbackStatus {
            state: "waiting",
            at,
            position: Some(position),
            wait_seconds: Some(wait.as_secs()),
        };
        for conn in self.conns.idle_tabs(&live.resume_hash, live.link.id) {
            self.send_visitor(conn, frame.clone());
        }
    }

    /// The country codes a tenant's callbacks may go to, for the widget's
    /// picker: those its policy lists, else those of its own numbers; empty
    /// when any country will do.
    pub(in crate::desk) fn callback_countries(&self, tenant: TenantId) -> Vec<String> {
        let listed = self
            .tenants
            .row(tenant)
            .map(|t| t.calls.callback_destinations.clone())
            .unwrap_or_default();
        let mut codes: Vec<String> = if listed.is_empty() {
            self.phone
                .own_numbers(tenant)
                .filter_map(country_code)
                .map(str::to_owned)
                .collect()
        } else {
            // A listed prefix may be shorter than a number ("+44"): padded,
            // it reads as one.
            listed
                .iter()
                .filter_map(|p| country_code(&format!("{p}0000")).map(str::to_owned))
                .collect()
        };
        codes.sort();
        codes.dedup();
        codes
    }

    /// A link whose callbacks the server dials needs a trunk to dial
    /// through: without one a request is refused before it is stored.
    pub(in crate::desk) fn can_dial_callbacks(&self, tenant: TenantId) -> Result<(), FrameError> {
        let trunked = self
            .phone
            .lines(tenant)
            .is_some_and(|l| !l.doc.trunks.is_empty());
        if trunked && self.phone.sip_agent().is_some() {
            return Ok(());
        }
        metrics::counter!("switchboard_callbacks_refused_total", "reason" => "no_trunk")
            .increment(1);
        Err(FrameError::new(
            ErrorCode::Invalid,
            "we cannot place calls from here just now; please chat with us instead",
        ))
    }

    /// The visitor's reason goes on the agent's screen pop and into the
    /// record (as the visitor's first words).
    pub(in crate::desk) fn callback_reason(&mut self, contact: ContactId, reason: String) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        live.screenpop["callback_reason"] = serde_json::Value::String(reason.clone());
        let tenant = live.tenant;
        self.writer.write(ContactWrite::Message {
            tenant,
            contact,
            from: Sender::Visitor,
            text: reason,
        });
    }

    /// The widget's `callback_slots`.
    pub(in crate::desk) fn visitor_callback_slots(&mut self, conn: ConnId) {
        let Some(v) = self.conns.visitor(conn) else {
            return;
        };
        let slots = self.callback_slots(v.tenant, v.link.queue, &v.calls.clone());
        self.send_visitor(conn, ToVisitor::CallbackSlots { slots });
    }

    /// The widget's `callback_change` and `callback_cancel`: the pending
    /// callback of this visitor on this link.
    pub(in crate::desk) fn visitor_callback_change(
        &mut self,
        conn: ConnId,
        action: CallbackAction,
    ) -> Result<(), FrameError> {
        let Some(v) = self.conns.visitor(conn) else {
            return Ok(());
        };
        let (tenant, link) = (v.tenant, v.link.id);
        let resume_hash = v.resume_hash.clone();
        let contact = self
            .contacts
            .iter()
            .find(|(_, c)| {
                c.tenant == tenant
                    && c.link.id == link
                    && c.resume_hash == resume_hash
                    && c.callback_phone.is_some()
            })
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                FrameError::new(ErrorCode::BadState, ScheduleError::NotFound.to_string())
            })?;
        match self.change_callback(tenant, contact, action, ChangedBy::Visitor) {
            Ok(view) if view.state == "cancelled" => {
                self.send_visitor(conn, ToVisitor::CallbackCancelled);
                Ok(())
            }
            Ok(view) => {
                let frame = self.callback_scheduled(contact, view.at);
                self.send_visitor(conn, frame);
                Ok(())
            }
            Err(ScheduleError::Refused(message)) => {
                Err(FrameError::new(ErrorCode::Invalid, message))
            }
            Err(e) => Err(FrameError::new(ErrorCode::BadState, e.to_string())),
        }
    }
}

/// A callback's reason, trimmed; one line of at most `MAX_REASON_CHARS`.
pub(in crate::desk) fn callback_reason(text: &str) -> Result<String, FrameError> {
    let trimmed = text.trim();
    if trimmed.chars().count() > MAX_REASON_CHARS {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            format!("keep the reason under {MAX_REASON_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            "the reason must be one line of text",
        ));
    }
    Ok(trimmed.to_owned())
}
