//! Agent side of the desk: consoles connecting, status, offers accepted or
//! declined, messages, ending and wrap-up.

use tokio::time::Instant;

use super::{
    AgentConn, Author, ConnId, DeskState, Outbox, Phase, Seat, Stored, routing::state_name,
};
use crate::{
    ids::{ContactId, UserId},
    protocol::{
        self, AgentFrame, AgentInfo, AgentStatus, ErrorCode, FrameError, HeldContact, ToAgent,
        ToVisitor,
    },
    store::{ContactWrite, Sender, Tenant, User},
};

/// Longest wrap-up note kept.
const MAX_NOTE_CHARS: usize = 1000;

/// What a console's connection read before its hello reached the desk.
pub(crate) struct AgentHello {
    pub(crate) user: User,
    pub(crate) tenant: Tenant,
    pub(crate) routing: Option<Box<crate::store::RoutingInputs>>,
    pub(crate) staff: Vec<(String, String)>,
}

impl DeskState {
    pub(super) fn agent_hello(&mut self, conn: ConnId, hello: AgentHello, outbox: Outbox<ToAgent>) {
        let AgentHello {
            user,
            tenant,
            routing,
            staff,
        } = hello;
        let tenant = &tenant;
        // Skills, center and capacity are read fresh from the tenant's setup, so a
        // change applied while the server runs takes effect at the next login.
        if let Some(routing) = routing {
            self.apply_routing(tenant.id, &routing, Some(user.id));
        }
        self.conns.add_console(
            conn,
            AgentConn {
                user: user.id,
                outbox,
            },
        );
        let first_console = if let Some(seat) = self.conns.seat_mut(user.id) {
            let first = seat.conns.is_empty();
            seat.conns.push(conn);
            seat.wrapup_codes.clone_from(&tenant.wrapup_codes);
            first
        } else {
            self.conns.add_seat(
                user.id,
                Seat {
                    tenant: tenant.id,
                    name: user.name.clone(),
                    display_name: user.display_name.clone(),
                    conns: vec![conn],
                    wrapup_codes: tenant.wrapup_codes.clone(),
                    dropped_while_available: None,
                    presence: None,
                },
            );
            true
        };
        if first_console {
            self.acd.handle_input(
                super::now(),
                acd::Input::AgentOnline {
                    agent: user.id.agent(),
                },
            );
            let grace = self.config.visitor_grace;
            let resume = self
                .conns
                .seat_mut(user.id)
                .and_then(|s| s.dropped_while_available.take())
                .is_some_and(|at| at.elapsed() < grace);
            if resume {
                self.acd.handle_input(
                    super::now(),
                    acd::Input::AgentReady {
                        agent: user.id.agent(),
                    },
                );
            }
        }
        // Contacts this agent still holds (a console reload mid-conversation).
        let contacts: Vec<HeldContact> = self
            .contacts
            .iter()
            .filter(|(_, c)| c.agent == Some(user.id))
            .filter_map(|(id, c)| {
                let state = match c.phase {
                    Phase::Connected => "connected",
                    Phase::WrapUp => "wrapup",
                    _ => return None,
                };
                Some(HeldContact {
                    contact: id.0,
                    media: c.media(),
                    state,
                    screenpop: c.screenpop.clone(),
                    transcript: c.transcript.clone(),
                })
            })
            .collect();
        let (state, reason) = state_name(&self.agent_state(user.id));
        if let Some(seat) = self.conns.seat_mut(user.id) {
            seat.presence = Some((state, reason.clone()));
        }
        let transfer = self.transfer_targets(tenant.id, &user.name, staff);
        let hello = ToAgent::Hello {
            agent: AgentInfo {
                name: user.name,
                display_name: user.display_name,
            },
            state,
            reason,
            wrapup_codes: tenant.wrapup_codes.clone(),
            contacts,
            transfer,
            media_control: tenant.calls.media_control,
        };
        if !self.conns.to_console(conn, hello) {
            self.agent_gone(conn);
        }
    }

    pub(super) async fn agent_frame(&mut self, conn: ConnId, frame: AgentFrame) {
        let Some(user) = self.conns.console(conn).map(|c| c.user) else {
            return;
        };
        let now = super::now();
        let agent = user.agent();
        let result = match frame {
            AgentFrame::Ping => {
                self.reply(conn, ToAgent::Pong);
                Ok(())
            }
            AgentFrame::Status { state, reason } => {
                if matches!(self.agent_state(user), acd::AgentState::Offline) {
                    // A supervisor set them offline; choosing a state brings
                    // them back.
                    self.acd
                        .handle_input(now, acd::Input::AgentOnline { agent });
                }
                let input = match state {
                    AgentStatus::Available => acd::Input::AgentReady { agent },
                    AgentStatus::NotReady => {
                        let reason: String = reason
                            .unwrap_or_else(|| "not ready".to_owned())
                            .chars()
                            .take(100)
                            .collect();
                        acd::Input::AgentNotReady { agent, reason }
                    }
                };
                self.acd.handle_input(now, input);
                Ok(())
            }
            AgentFrame::Accept { contact } => {
                self.offered_to(user, ContactId(contact)).map(|contact| {
                    if self.dialer.awaits_accept(contact, user) {
                        // A callback: the server dials now (`callbacks/`).
                        self.callback_accepted(contact);
                        return;
                    }
                    self.acd
                        .handle_input(now, acd::Input::OfferAccepted { contact, agent });
                })
            }
            AgentFrame::Decline { contact } => {
                self.offered_to(user, ContactId(contact)).map(|contact| {
                    self.acd
                        .handle_input(now, acd::Input::OfferDeclined { contact, agent });
                })
            }
            AgentFrame::CallbackResult { contact, connected } => {
                self.callback_result(user, ContactId(contact), connected)
            }
            AgentFrame::Message { contact, text } => {
                self.agent_message(user, ContactId(contact), &text)
            }
            AgentFrame::Typing { contact, active } => self
                .held_by(user, ContactId(contact), Phase::Connected)
                .map(|contact| {
                    self.send_contact_visitors(contact, &ToVisitor::Typing { active });
                }),
            AgentFrame::End { contact } => {
                match self.held_by(user, ContactId(contact), Phase::Connected) {
                    Ok(contact) => {
                        self.end_contact(contact, Sender::Agent);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            AgentFrame::Wrapup {
                contact,
                code,
                note,
            } => self.wrapup(user, ContactId(contact), &code, note),
            AgentFrame::CallSdp { contact, sdp } => {
                self.agent_call_sdp(conn, user, contact, &sdp).await
            }
            AgentFrame::Hold { contact, on } => self.agent_hold(user, contact, on).await,
            AgentFrame::Transfer {
                contact,
                queue,
                agent,
            } => self.agent_transfer(user, contact, queue, agent).await,
            AgentFrame::MediaControl { contact, settings } => {
                self.agent_media_control(user, contact, settings)
            }
            AgentFrame::CobrowseRequest { contact } => self.agent_cobrowse_request(user, contact),
        };
        if let Err(e) = result {
            self.reply(
                conn,
                ToAgent::Error {
                    code: e.code,
                    message: e.message,
                },
            );
        }
    }

    /// The tenant's queues and other staff, for the console's transfer menu.
    fn transfer_targets(
        &self,
        tenant: crate::ids::TenantId,
        me: &str,
        staff: Vec<(String, String)>,
    ) -> protocol::TransferTargets {
        let mut queues: Vec<protocol::TransferQueue> = self
            .tenants
            .queues_of(tenant)
            .map(|(_, name)| protocol::TransferQueue {
                name: name.to_owned(),
            })
            .collect();
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        let agents = staff
            .into_iter()
            .filter(|(name, _)| name != me)
            .map(|(name, display_name)| AgentInfo { name, display_name })
            .collect();
        protocol::TransferTargets { queues, agents }
    }

    pub(super) fn reply(&mut self, conn: ConnId, frame: ToAgent) {
        if !self.conns.to_console(conn, frame) {
            self.agent_gone(conn);
        }
    }

    /// The contact if it is offered to this agent right now.
    /// The agent reports the callback they were reserved for: answered (the
    /// agent now holds it, like an accepted chat) or not (it is tried again
    /// after the retry delay, keeping its place, until attempts run out).
    fn callback_result(
        &mut self,
        user: UserId,
        contact: ContactId,
        connected: bool,
    ) -> Result<(), FrameError> {
        let contact = self.offered_to(user, contact)?;
        if self
            .contacts
            .get(contact)
            .is_none_or(|c| c.callback_phone.is_none())
        {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "that contact is not a callback",
            ));
        }
        let input = if connected {
            acd::Input::CallbackConnected { contact }
        } else {
            if let Some(live) = self.contacts.get_mut(contact) {
                live.phase = Phase::Waiting;
                let tenant = live.tenant;
                self.writer
                    .write(ContactWrite::Requeued { tenant, contact });
            }
            acd::Input::CallbackFailed { contact }
        };
        self.acd.handle_input(super::now(), input);
        Ok(())
    }

    fn offered_to(&self, user: UserId, contact: ContactId) -> Result<ContactId, FrameError> {
        match self.contacts.get(contact).map(|c| c.phase) {
            Some(Phase::Offered(to)) if to == user => Ok(contact),
            _ => Err(FrameError::new(
                ErrorCode::BadState,
                "that offer is no longer open",
            )),
        }
    }

    /// The contact if this agent holds it in `phase`.
    pub(super) fn held_by(
        &self,
        user: UserId,
        contact: ContactId,
        phase: Phase,
    ) -> Result<ContactId, FrameError> {
        match self.contacts.get(contact) {
            Some(c) if c.agent == Some(user) && c.phase == phase => Ok(contact),
            Some(c) if c.agent == Some(user) => Err(FrameError::new(
                ErrorCode::BadState,
                "the contact is not in a state that allows this",
            )),
            _ => Err(FrameError::new(
                ErrorCode::Forbidden,
                "you do not hold that contact",
            )),
        }
    }

    fn agent_message(
        &mut self,
        user: UserId,
        contact: ContactId,
        text: &str,
    ) -> Result<(), FrameError> {
        let contact = self.held_by(user, contact, Phase::Connected)?;
        let text = protocol::chat_text(text)?;
        let Some(tenant) = self.contacts.get(contact).map(|c| c.tenant) else {
            return Ok(());
        };
        if !self.writer.admits(tenant) {
            return Err(super::stored::busy());
        }
        // Echoed to both sides once stored (`stored.rs`).
        self.store_message(contact, Sender::Agent, text, Author::Agent(user));
        Ok(())
    }

    /// The routing core frees the agent at once; the contact is closed (and
    /// the console told `wrapped`) when the wrap-up is stored (`stored.rs`).
    fn wrapup(
        &mut self,
        user: UserId,
        contact: ContactId,
        code: &str,
        note: Option<String>,
    ) -> Result<(), FrameError> {
        let contact = self.held_by(user, contact, Phase::WrapUp)?;
        let Some(live) = self.contacts.get_mut(contact) else {
            return Ok(());
        };
        if !live.wrapup_codes.iter().any(|c| c == code) {
            return Err(FrameError::new(
                ErrorCode::Invalid,
                format!(
                    "unknown wrap-up code; use one of: {}",
                    live.wrapup_codes.join(", ")
                ),
            ));
        }
        if live.wrapping_up {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "the wrap-up is being stored",
            ));
        }
        live.wrapping_up = true;
        let note: Option<String> = note
            .map(|n| n.trim().chars().take(MAX_NOTE_CHARS).collect())
            .filter(|n: &String| !n.is_empty());
        let tenant = live.tenant;
        let tx = self.stored_tx.clone();
        let write = ContactWrite::WrapUp {
            tenant,
            contact,
            code: code.to_owned(),
            note,
        };
        self.writer.write_then(write, move |result| {
            let _ = tx.send(Stored::WrapUp {
                contact,
                agent: user,
                ok: result.is_ok(),
            });
        });
        self.acd
            .handle_input(super::now(), acd::Input::WrapUpDone { contact });
        Ok(())
    }

    /// A console closed. When it was the agent's last, the core takes them
    /// offline (withdrawing a pending offer); contacts they hold stay theirs so a
    /// reloaded console picks them up again.
    pub(super) fn agent_gone(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove_console(conn) else {
            return;
        };
        let available = state_name(&self.agent_state(c.user)).0 == "available";
        let Some(seat) = self.conns.seat_mut(c.user) else {
            return;
        };
        seat.conns.retain(|x| *x != conn);
        if seat.conns.is_empty() {
            seat.dropped_while_available = available.then(Instant::now);
            self.acd.handle_input(
                super::now(),
                acd::Input::AgentOffline {
                    agent: c.user.agent(),
                },
            );
        }
    }
}
