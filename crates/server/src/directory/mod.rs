//! The directory: members (staff and enrolled customers) with permanent
//! numbers and SIP credentials ([`members`]), and who is reachable now
//! ([`presence`]), calls by number ([`calls`]) and voice and video mail
//! ([`mailbox`]). Reference: 002, the permanent and dynamic directories and
//! their merge (Figs 7-9), permanent numbers (Figs 12-13).

pub mod calls;
pub mod calls_http;
pub mod cli;
pub mod demo;
pub mod http;
pub mod mailbox;
pub mod members;
pub mod number;
pub mod presence;
pub mod service;

pub use members::{Directory, DirectoryError, NumberRequest};
pub use number::{NumberFormatError, PermanentNumber};
pub use presence::{MemoryPresence, Presence, PresenceState, Status};
pub use service::DirectoryService;
