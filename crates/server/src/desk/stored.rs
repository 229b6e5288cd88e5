//! Writes that report back to the desk (`writer.rs` runs them off the loop).
//!
//! The rule: what a user is told is stored (a message echo, a
//! `callback_scheduled`, a wrap-up) is told here, after the commit; what
//! routing decides never waits for it. Also the desk's supply of contact ids,
//! reserved from the database a block at a time so that numbering a new
//! contact needs no query.

use super::{ConnId, DeskState, Phase};
use crate::{
    ids::{ContactId, UserId},
    protocol::{ErrorCode, FrameError, ToAgent, ToVisitor},
    store::{ContactWrite, Message, NewContact, Sender, Written},
};

/// Messages a live contact keeps in memory for reconnecting tabs and consoles
/// and for the agent who takes it; older ones are still in the record.
const TRANSCRIPT_KEPT: usize = 500;

/// What a connection is told when its tenant's writes are backed up.
pub(super) fn busy() -> FrameError {
    FrameError::new(
        ErrorCode::RateLimited,
        "too busy to take this right now; try again in a moment",
    )
}

/// What the customer records say of an inbound caller, by caller id (read
/// beside the desk by `inbound.rs`, and brought back as [`Stored::Caller`]).
pub(super) struct Caller {
    /// The customer the number belongs to, if any (shown unverified).
    pub(super) customer: Option<String>,
    pub(super) record: Option<crate::store::Customer>,
}

/// A write that committed (or failed), back at the desk to tell the user.
pub(super) enum Stored {
    /// A new contact's row: on failure the contact is ended and its visitor
    /// told; a callback's visitor is told when to expect the call.
    Contact {
        contact: ContactId,
        ok: bool,
        callback_at: Option<(ConnId, i64)>,
    },
    Message {
        contact: ContactId,
        /// Who sent it, to hear of a failure.
        author: Author,
        result: Result<crate::store::Message, ()>,
    },
    WrapUp {
        contact: ContactId,
        agent: UserId,
        ok: bool,
    },
    /// A waiting chat became a callback (virtual hold).
    CallbackMade {
        contact: ContactId,
        at: i64,
        ok: bool,
    },
    ContactIds(Result<std::ops::Range<i64>, ()>),
    /// A recorded call's record names its files: the recorder may start
    /// (`calls/recording.rs`).
    RecordingLinked {
        contact: ContactId,
        ok: bool,
    },
    /// An inbound caller looked up in the customer records (a read, done
    /// beside the desk like the writes).
    Caller {
        incoming: Box<sip::IncomingCall>,
        caller: Result<Caller, ()>,
    },
}

/// Who sent a message, to tell them if it could not be stored.
#[derive(Debug, Clone, Copy)]
pub(super) enum Author {
    Visitor(ConnId),
    Agent(UserId),
    /// The first message of a contact (its visitor is told through the contact).
    Start,
}

/// How many contact ids are reserved at a time, and the fewest left before
/// the next block is asked for. At 500 new contacts a second a block lasts
/// two seconds; the next is asked for a second ahead.
pub(super) const ID_BLOCK: i64 = 1000;
const ID_LOW: i64 = 500;

/// The blocks of contact ids in hand: the one in use and the next.
#[derive(Default)]
pub(super) struct ContactIds {
    current: std::ops::Range<i64>,
    spare: Option<std::ops::Range<i64>>,
    asked: bool,
}

impl ContactIds {
    pub(super) fn take(&mut self) -> Option<ContactId> {
        if self.current.is_empty() {
            self.current = self.spare.take()?;
        }
        self.current.next().map(ContactId)
    }

    /// Whether the next block should be asked for now (and notes that it was).
    pub(super) fn wants_more(&mut self) -> bool {
        let want =
            !self.asked && self.spare.is_none() && self.current.end - self.current.start < ID_LOW;
        self.asked |= want;
        want
    }

    pub(super) fn add(&mut self, block: std::ops::Range<i64>) {
        self.asked = false;
        if self.current.is_empty() {
            self.current = block;
        } else {
            self.spare = Some(block);
        }
    }

    /// The ask failed: ask again at the next contact.
    pub(super) fn ask_failed(&mut self) {
        self.asked = false;
    }
}

impl DeskState {
    /// The next contact id, asking for the next block in good time. `None`
    /// only when the database has not handed out a block for a while.
    pub(super) fn next_contact_id(&mut self) -> Option<ContactId> {
        let id = self.contact_ids.take();
        if self.contact_ids.wants_more() {
            let store = self.writer.store();
            let tx = self.stored_tx.clone();
            tokio::spawn(async move {
                let block = store.reserve_contact_ids(ID_BLOCK).await.map_err(|e| {
                    tracing::error!(error = %e, "reserving contact ids failed");
                });
                let _ = tx.send(Stored::ContactIds(block));
            });
        }
        id
    }

    /// Stores a new contact's row. With `callback_at` the visitor on that
    /// connection is told when to expect the call once the row is stored.
    pub(super) fn store_contact(
        &self,
        contact: ContactId,
        new: NewContact,
        callback_at: Option<(ConnId, i64)>,
    ) {
        let tx = self.stored_tx.clone();
        let write = ContactWrite::Create { id: contact, new };
        self.writer.write_then(write, move |result| {
            let ok = result.is_ok();
            if !ok || callback_at.is_some() {
                let _ = tx.send(Stored::Contact {
                    contact,
                    ok,
                    callback_at,
                });
            }
        });
    }

    /// Stores a message; its echo (and its copy to the agent) goes out when
    /// it is stored, in the order the contact's messages were sent.
    pub(super) fn store_message(
        &self,
        contact: ContactId,
        from: Sender,
        text: String,
        author: Author,
    ) {
        let Some(tenant) = self.contacts.get(contact).map(|c| c.tenant) else {
            return;
        };
        let tx = self.stored_tx.clone();
        let write = ContactWrite::Message {
            tenant,
            contact,
            from,
            text,
        };
        self.writer.write_then(write, move |result| {
            let result = result.and_then(|written| match written {
                Written::Message(message) => Ok(message),
                Written::Done => Err(()),
            });
            let _ = tx.send(Stored::Message {
                contact,
                author,
                result,
            });
        });
    }

    /// A write that reports back has finished.
    pub(super) async fn stored(&mut self, stored: Stored) {
        match stored {
            Stored::ContactIds(Ok(block)) => self.contact_ids.add(block),
            Stored::ContactIds(Err(())) => self.contact_ids.ask_failed(),
            Stored::Contact {
                contact,
                ok,
                callback_at,
            } => {
                if ok {
                    if let Some((conn, at)) = callback_at {
                        let frame = self.callback_scheduled(contact, at);
                        self.send_visitor(conn, frame);
                    }
                } else {
                    self.contact_not_stored(contact, callback_at.map(|(conn, _)| conn));
                }
            }
            Stored::Message {
                contact,
                author,
                result,
            } => {
                match result {
                    Ok(message) => self.message_stored(contact, message),
                    Err(()) => self.message_not_stored(contact, author),
                }
                if matches!(author, Author::Start) {
                    if let Some(live) = self.contacts.get_mut(contact) {
                        live.first_pending = false;
                    }
                    self.tell_queued(contact);
                }
            }
            Stored::WrapUp { contact, agent, ok } => self.wrapup_stored(contact, agent, ok),
            Stored::CallbackMade { contact, at, ok } => self.callback_made(contact, at, ok),
            Stored::Caller { incoming, caller } => self.caller_looked_up(*incoming, caller).await,
            Stored::RecordingLinked { contact, ok } => self.recording_linked(contact, ok).await,
        }
    }

    /// A contact whose row could not be stored ends at once: nothing about it
    /// could be recorded, so it must not be served.
    fn contact_not_stored(&mut self, contact: ContactId, callback_conn: Option<ConnId>) {
        let error = ToVisitor::Error {
            code: ErrorCode::BadState,
            message: "the conversation could not be started; try again".to_owned(),
        };
        if let Some(conn) = callback_conn {
            self.send_visitor(conn, error.clone());
        }
        self.send_contact_visitors(contact, &error);
        if self
            .contacts
            .get(contact)
            .is_some_and(|c| c.callback_phone.is_some())
        {
            // A callback has no visitor to end it: the core lets it go.
            self.acd
                .handle_input(super::now(), acd::Input::ContactLeft { contact });
        } else {
            self.end_contact(contact, Sender::System);
        }
    }

    fn message_stored(&mut self, contact: ContactId, message: Message) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        if live.transcript.len() == TRANSCRIPT_KEPT {
            live.transcript.remove(0);
        }
        live.transcript.push(message.clone());
        let holder = match live.phase {
            Phase::Connected | Phase::WrapUp => live.agent,
            Phase::Waiting | Phase::Offered(_) => None,
        };
        self.send_contact_visitors(contact, &ToVisitor::Message(message.clone()));
        if let Some(agent) = holder {
            self.send_agent(
                agent,
                &ToAgent::Message {
                    contact: contact.0,
                    message,
                },
            );
        }
    }

    fn message_not_stored(&mut self, contact: ContactId, author: Author) {
        let message = "the message could not be stored; send it again".to_owned();
        match author {
            Author::Visitor(conn) => self.send_visitor(
                conn,
                ToVisitor::Error {
                    code: ErrorCode::BadState,
                    message,
                },
            ),
            Author::Start => self.send_contact_visitors(
                contact,
                &ToVisitor::Error {
                    code: ErrorCode::BadState,
                    message,
                },
            ),
            Author::Agent(user) => self.send_agent(
                user,
                &ToAgent::Error {
                    code: ErrorCode::BadState,
                    message,
                },
            ),
        }
    }

    /// The wrap-up is in the record: the contact is closed. The routing core
    /// freed the agent when the wrap-up was sent; a wrap-up that could not be
    /// stored leaves the contact in the agent's list to send again.
    fn wrapup_stored(&mut self, contact: ContactId, agent: super::UserId, ok: bool) {
        if ok {
            self.remove_contact(contact);
            self.send_agent(agent, &ToAgent::Wrapped { contact: contact.0 });
            return;
        }
        if let Some(live) = self.contacts.get_mut(contact) {
            live.wrapping_up = false;
        }
        self.send_agent(
            agent,
            &ToAgent::Error {
                code: ErrorCode::BadState,
                message: "the wrap-up could not be stored; try again".to_owned(),
            },
        );
    }

    /// A waiting chat became a callback in the record: its visitor is told
    /// when to expect the call and is free again. If it could not be stored,
    /// the visitor hears so and the contact is let go.
    fn callback_made(&mut self, contact: ContactId, at: i64, ok: bool) {
        if ok {
            let frame = self.callback_scheduled(contact, at);
            self.send_contact_visitors(contact, &frame);
            self.detach_visitors(contact);
            return;
        }
        self.send_contact_visitors(
            contact,
            &ToVisitor::Error {
                code: ErrorCode::BadState,
                message: "the call back could not be scheduled; try again".to_owned(),
            },
        );
        self.acd
            .handle_input(super::now(), acd::Input::ContactLeft { contact });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_handed_out_in_order_and_the_next_block_is_asked_for_once_when_low() {
        let mut ids = ContactIds::default();
        // Nothing in hand yet: no id, and one ask (not one per contact).
        assert_eq!(ids.take(), None);
        assert!(ids.wants_more());
        assert!(!ids.wants_more());
        ids.add(1..(ID_LOW + 3));
        assert_eq!(ids.take(), Some(ContactId(1)));
        assert!(!ids.wants_more());
        assert_eq!(ids.take(), Some(ContactId(2)));
        // Exactly ID_LOW left: no ask yet; one fewer asks, once.
        assert!(!ids.wants_more());
        assert_eq!(ids.take(), Some(ContactId(3)));
        assert!(ids.wants_more());
        assert!(!ids.wants_more(), "asked once until the block arrives");
        // The spare block follows on when the current one runs out.
        ids.add(5000..5002);
        assert!(!ids.wants_more(), "a spare is in hand");
        for expected in 4..(ID_LOW + 3) {
            assert_eq!(ids.take(), Some(ContactId(expected)));
        }
        assert_eq!(ids.take(), Some(ContactId(5000)));
        assert_eq!(ids.take(), Some(ContactId(5001)));
        assert_eq!(ids.take(), None);
    }

    #[test]
    fn a_failed_ask_is_asked_again() {
        let mut ids = ContactIds::default();
        assert!(ids.wants_more());
        assert!(!ids.wants_more());
        ids.ask_failed();
        assert!(ids.wants_more());
    }
}
