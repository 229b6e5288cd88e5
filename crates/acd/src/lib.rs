//! Sans-IO routing core of Switchboard (the ACD).
//!
//! The core decides which agent gets which contact and when. It does no IO: no
//! sockets, no database, no clock reads, no threads. Its owner feeds it inputs
//! and drains its outputs.
//!
//! # Run-loop contract
//!
//! ```text
//! loop {
//!     // 1. Feed whatever happened, with the current wall-clock time.
//!     acd.handle_input(now, input);          // or Input::Timeout when the timer fires
//!     // 2. Drain outputs until a Timeout comes back.
//!     loop {
//!         match acd.poll_output() {
//!             Output::Command(c) => carry it out (ring an agent, withdraw an offer, dial),
//!             Output::Event(e)   => record it / publish it,
//!             Output::Timeout(t) => { arm a timer for t; break }
//!         }
//!     }
//! }
//! ```
//!
//! * Time is wall-clock [`Time`] (milliseconds since the Unix epoch, UTC), because
//!   business hours are wall-clock. A `now` earlier than one already seen is taken
//!   as the latest time seen, so time never runs backwards inside (a clock stepped
//!   back by NTP delays timers a little; it never reorders anything).
//! * `poll_output` always ends with `Output::Timeout`; after it returns a timeout,
//!   nothing more is pending until the next `handle_input`.
//! * When the timer fires, call `handle_input(now, Input::Timeout)`. Waking early
//!   or late is harmless: everything due at `now` is done then.
//! * Every input that names an unknown agent, contact or queue, or comes out of
//!   place, is ignored and reported as `Event::Ignored`, never a panic: the IO side
//!   may race with the core.
//! * Setups ([`Input::Configure`]) are checked with [`TenantSetup::validate`]; an
//!   invalid one is ignored as a whole. Owners should validate at load time to tell
//!   the operator, naming what is wrong.
//!
//! # Model
//!
//! * A **tenant** has centers, queues, agents, classes of service and media rules.
//! * A **center** has a time zone, weekly hours, holidays, a region, a weight and
//!   optionally a capacity (most contacts it takes at once, waiting or served).
//!   Each agent belongs to one center.
//! * A **queue** (one per link) requires skills at minimum levels, picks an agent
//!   by its [`Strategy`], picks a center for each arrival by its [`CenterPolicy`],
//!   and widens its requirements by [`OverflowRule`]s as a contact waits. The
//!   picked center is a preference: its free agents are offered the contact
//!   first, but any agent of the queue's centers may take it, so nobody waits on
//!   a busy center while another has room. `OverflowAction::AddCenter` brings in
//!   a center outside the queue's list (a backup center).
//! * Business hours decide which contacts are accepted (and the queue's `open`
//!   status), not whether a logged-in agent gets offers.
//! * A **contact** has a media, a priority, extra required skills, attributes
//!   (region, UTC offset, verified class of service), maybe a preferred agent, and
//!   an arrival time. Waiting contacts are served highest effective priority first,
//!   then earliest arrival; the effective priority grows by one every
//!   [`Config::priority_aging`] of waiting, so nothing starves.
//! * An **agent** holds skills with levels 1-10 and a capacity per media. A call
//!   (voice, video or callback) takes the agent whole: it is offered only to an
//!   agent holding nothing, and nothing is offered to an agent on a call.
//!   Chats share the agent up to the chat capacity.

mod core;
mod hours;
mod setup;
pub mod simulate;
mod view;

pub use crate::core::Acd;
pub use crate::hours::{Calendar, Date, WeeklyHours, utc_offset_minutes};
pub use crate::setup::{
    CenterPolicy, CenterSpec, ClassOfService, MediaRule, OverflowAction, OverflowRule, QueueSpec,
    SetupError, SkillReq, Strategy, TenantSetup,
};
pub use crate::view::{AgentView, ContactStage, ContactView, QueueStatus};

use std::time::Duration;

/// Wall-clock time: milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Time(pub i64);

impl Time {
    pub fn from_millis(ms: i64) -> Time {
        Time(ms)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating at the end of time.
    #[must_use]
    pub fn plus(self, d: Duration) -> Time {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Time(self.0.saturating_add(ms))
    }

    /// How long from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        let ms = self.0.saturating_sub(earlier.0).max(0);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

/// A tenant (merchant); everything else belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub i64);

/// A staff member who can take contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub i64);

/// One contact: a chat, a call or a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub i64);

/// A queue; one per link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub i64);

/// A skill an agent holds at a level and a queue requires at a minimum level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SkillId(pub i64);

/// A call center: a place with its own hours, agents and time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CenterId(pub i64);

/// How a contact reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Media {
    Chat,
    Voice,
    Video,
    /// The agent calls the customer back (virtual hold).
    Callback,
}

impl Media {
    pub const ALL: [Media; 4] = [Media::Chat, Media::Voice, Media::Video, Media::Callback];

    /// Position in [`Media::ALL`] and in [`Capacity`].
    pub fn index(self) -> usize {
        match self {
            Media::Chat => 0,
            Media::Voice => 1,
            Media::Video => 2,
            Media::Callback => 3,
        }
    }

    /// A call takes the agent whole (see the crate doc).
    pub fn is_call(self) -> bool {
        !matches!(self, Media::Chat)
    }
}

/// How many contacts of each media an agent may hold at once. Zero means the agent
/// does not take that media at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capacity(pub [u32; 4]);

impl Capacity {
    /// No media at all; add some with [`Capacity::with`].
    pub const NONE: Capacity = Capacity([0; 4]);

    #[must_use]
    pub fn with(mut self, media: Media, n: u32) -> Capacity {
        self.0[media.index()] = n;
        self
    }

    pub fn of(self, media: Media) -> u32 {
        self.0[media.index()]
    }
}

impl Default for Capacity {
    /// Three chats, or one voice, video or callback call.
    fn default() -> Self {
        Capacity([3, 1, 1, 1])
    }
}

/// Tuning of the core as a whole (per-queue tuning is in [`QueueSpec`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// Handle time assumed for a queue before any of its contacts has finished.
    pub initial_handle_time: Duration,
    /// Weight of the newest sample in the handle-time moving average (0..=1).
    pub handle_time_smoothing: f64,
    /// Waiting this long raises a contact's effective priority by one.
    pub priority_aging: Duration,
    /// Shortest gap between two `Waiting` events for one contact, so a long line
    /// that moves fast does not flood visitors; a change is always sent once the
    /// gap has passed (never frozen).
    pub estimate_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            initial_handle_time: Duration::from_mins(3),
            // Measured (docs/benchmarks.md, "ACD wait estimate error";
            // `cargo run --release -p acd --example estimate_error`): with
            // exponential handle times 0.2 follows the last ~5 contacts and
            // nearly doubles the estimate error at 0.95 occupancy (MAE 55 s
            // against 28 s for the true mean); 0.05 cuts it to 37.5 s (19 s
            // against 23.7 s at 0.85) while still following a real change in
            // handle time within ~20 contacts (0.01-0.02 is a little more
            // accurate in steady state but takes 50-100 contacts to adapt).
            handle_time_smoothing: 0.05,
            priority_aging: Duration::from_mins(1),
            estimate_interval: Duration::from_secs(1),
        }
    }
}

/// An agent as configured: who they are, where they work, what they can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    pub agent: AgentId,
    pub tenant: TenantId,
    pub center: CenterId,
    /// Skill and level (1-10); a level outside that range is clamped.
    pub skills: Vec<(SkillId, u8)>,
    pub capacity: Capacity,
}

/// Facts about a visitor that routing may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Region the merchant supplied (matches [`CenterSpec::region`]).
    pub region: Option<String>,
    /// The visitor's UTC offset in minutes (from the widget's time zone), used to
    /// find the nearest center when no region is given.
    pub utc_offset_minutes: Option<i32>,
    /// Class of service from a *verified* identity only (e.g. "gold").
    pub class: Option<String>,
    /// Language tag, for records and dashboards (route by language with a skill).
    pub language: Option<String>,
}

/// Callback settings for a contact of media `Callback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackPlan {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait after a failed attempt before the contact is routed again.
    pub retry_delay: Duration,
}

impl Default for CallbackPlan {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            retry_delay: Duration::from_mins(5),
        }
    }
}

/// A contact entering the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSpec {
    pub contact: ContactId,
    pub queue: QueueId,
    pub media: Media,
    /// Added to the queue's priority (and the class of service's boost).
    pub priority: i32,
    /// Required on top of the queue's skills.
    pub skills: Vec<SkillReq>,
    pub attributes: Attributes,
    /// The agent who last served this customer, tried first for the queue's
    /// `preferred_agent_wait`.
    pub preferred_agent: Option<AgentId>,
    /// When the contact first arrived. Normally `now`; earlier when the owner
    /// rebuilds the line after a restart, so each contact keeps its place.
    pub arrived: Time,
    /// A scheduled callback enters the line only at this time (its place is then
    /// that time).
    pub not_before: Option<Time>,
    /// For `Media::Callback`; `None` means the default plan.
    pub callback: Option<CallbackPlan>,
    /// Callback attempts already made (when rebuilt after a restart).
    pub attempts_made: u32,
    /// A callback rebuilt between two attempts enters the line only at this
    /// time (its next attempt's), keeping its place (`arrived`, or
    /// `not_before`), as the retry would have without the restart.
    pub retry_at: Option<Time>,
    /// How long the preferred agent is waited for, instead of the queue's
    /// `preferred_agent_wait` (a transfer to a named agent sets it).
    pub preferred_wait: Option<Duration>,
    /// Not offered to this agent during the preference wait (a blind transfer
    /// away from them); after it, to anyone qualified.
    pub excluded_agent: Option<AgentId>,
}

impl ContactSpec {
    /// A contact with no extras: no priority, no extra skills, no attributes.
    pub fn new(contact: ContactId, queue: QueueId, media: Media, arrived: Time) -> ContactSpec {
        ContactSpec {
            contact,
            queue,
            media,
            priority: 0,
            skills: Vec::new(),
            attributes: Attributes::default(),
            preferred_agent: None,
            arrived,
            not_before: None,
            callback: None,
            attempts_made: 0,
            retry_at: None,
            preferred_wait: None,
            excluded_agent: None,
        }
    }
}

/// Why an agent is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadyReason {
    /// The console just connected; the agent has not chosen yet.
    Login,
    /// The agent chose it (break, training ...), with their words.
    Chosen(String),
    /// The agent declined an offer.
    Declined,
    /// An offer timed out unanswered.
    MissedOffer,
}

/// The state an agent is in, as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    Offline,
    NotReady(NotReadyReason),
    /// Ready, holding nothing.
    Available,
    /// An offer (or a callback dial) is pending for the agent.
    Reserved,
    /// Ready and holding at least one contact that is not in wrap-up (there may
    /// still be room for more chats).
    Busy,
    /// Every contact the agent holds is in wrap-up, until the given time.
    WrapUp {
        until: Time,
    },
}

/// Something that happened, fed to the core.
#[derive(Debug, Clone)]
pub enum Input {
    /// A tenant's centers, queues, classes of service and media rules; replaces
    /// the tenant's previous setup. Contacts waiting in a queue that disappears
    /// leave with `Outcome::Refused`.
    Configure(Box<TenantSetup>),
    /// An agent is configured (or reconfigured). A new agent starts `Offline`.
    AgentDefined(AgentSpec),
    /// An agent was deleted: like `AgentOffline`, then forgotten.
    AgentRemoved {
        agent: AgentId,
    },
    /// The agent's console connected: `NotReady(Login)` until they choose.
    AgentOnline {
        agent: AgentId,
    },
    /// The console went away. A pending offer is withdrawn and the contact goes
    /// back to its place; contacts the agent holds stay held (the console may come
    /// back) until they end.
    AgentOffline {
        agent: AgentId,
    },
    AgentReady {
        agent: AgentId,
    },
    AgentNotReady {
        agent: AgentId,
        reason: String,
    },
    /// A contact asks to be served.
    ContactArrived(Box<ContactSpec>),
    /// The visitor left (or the system closed the contact) before it was served.
    /// Waiting or scheduled: leaves. Offered: the offer is cancelled. Held by an
    /// agent: ignored (end it with `ContactEnded`).
    ContactLeft {
        contact: ContactId,
    },
    /// A waiting contact becomes a callback (virtual hold): it keeps its place,
    /// and at its turn an agent is reserved and `Command::DialCallback` issued.
    ToCallback {
        contact: ContactId,
        plan: CallbackPlan,
    },
    /// A waiting or scheduled callback moves to `at` (at once when `at` is
    /// not in the future): its place follows the new time. A callback that
    /// is offered, being dialled or held, or a contact that is no callback,
    /// is left alone (`Event::Ignored`).
    Reschedule {
        contact: ContactId,
        at: Time,
    },
    /// A supervisor moves a waiting contact to another queue or priority: it
    /// leaves the line without an outcome and arrives again as the spec says,
    /// its place counted from `arrived` (keep the first arrival to keep it).
    /// Ignored unless it is waiting, when the queue is another tenant's, or
    /// when nobody can serve that queue.
    Requeue(Box<ContactSpec>),
    OfferAccepted {
        contact: ContactId,
        agent: AgentId,
    },
    OfferDeclined {
        contact: ContactId,
        agent: AgentId,
    },
    /// The callback dialled for `contact` was answered: the agent now holds it.
    CallbackConnected {
        contact: ContactId,
    },
    /// The callback attempt failed (busy, no answer, machine ...): it goes back to
    /// its place after the retry delay, or leaves with `Outcome::CallbackFailed`
    /// when attempts run out. The agent is free again (not penalised).
    CallbackFailed {
        contact: ContactId,
    },
    /// The conversation is over; the agent's wrap-up starts (timed by the queue's
    /// `wrap_up`). The contact leaves the core with `Outcome::Answered`.
    ContactEnded {
        contact: ContactId,
    },
    /// The agent finished wrap-up early; the slot is free.
    WrapUpDone {
        contact: ContactId,
    },
    /// The timer returned by the last `Output::Timeout` fired.
    Timeout,
}

/// What the core wants done, what happened, or when to wake it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Command(Command),
    Event(Event),
    /// Call `handle_input(t, Input::Timeout)` at `t` (or earlier, harmlessly).
    Timeout(Time),
}

/// Orders for the IO side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ring `agent` with `contact`; the agent is reserved until `expires`.
    Offer {
        contact: ContactId,
        agent: AgentId,
        expires: Time,
    },
    /// Withdraw an offer that was made.
    CancelOffer {
        contact: ContactId,
        agent: AgentId,
        reason: CancelReason,
    },
    /// `agent` is reserved for this callback: dial the customer and report
    /// `CallbackConnected` or `CallbackFailed`. `attempt` counts from 1.
    DialCallback {
        contact: ContactId,
        agent: AgentId,
        attempt: u32,
    },
}

/// Why an offer was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    Timeout,
    Abandoned,
    AgentOffline,
}

/// Why a contact was not taken into the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Every center that could serve the queue is closed now; `next_open` is the
    /// earliest opening within two weeks, if any.
    Closed { next_open: Option<Time> },
    /// The media is reserved to some classes of service and the visitor's
    /// verified class is not one of them (`allowed` lists them for a polite
    /// explanation).
    NotEntitled { media: Media, allowed: Vec<String> },
    /// No configured agent in any center the queue may use has the required
    /// skills at the required levels and capacity for the media.
    NoQualifiedAgents,
    /// The queue is unknown (or its tenant has no setup).
    UnknownQueue,
}

/// Facts for records, dashboards and visitors: one for every transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    AgentStateChanged {
        agent: AgentId,
        state: AgentState,
    },
    /// The contact entered the line (or a schedule, if `scheduled_for` is set),
    /// routed to `center`.
    Queued {
        contact: ContactId,
        queue: QueueId,
        center: Option<CenterId>,
        scheduled_for: Option<Time>,
    },
    /// The contact was not taken; it leaves with `Outcome::Refused` next.
    Refused {
        contact: ContactId,
        reason: Refusal,
    },
    /// The contact is waiting at `position` (1 = next among those competing for
    /// the same agents) with an estimated wait. Sent on entering the line and
    /// whenever position or estimate changes (at most once per
    /// `Config::estimate_interval` per contact).
    Waiting {
        contact: ContactId,
        queue: QueueId,
        position: u32,
        wait: Duration,
    },
    /// An overflow rule of the contact's queue applied (`rule` indexes
    /// `QueueSpec::overflow`).
    Overflowed {
        contact: ContactId,
        rule: usize,
    },
    /// The preferred agent did not come in time; anyone qualified may serve now.
    PreferenceExpired {
        contact: ContactId,
    },
    Offered {
        contact: ContactId,
        agent: AgentId,
    },
    Declined {
        contact: ContactId,
        agent: AgentId,
    },
    OfferTimedOut {
        contact: ContactId,
        agent: AgentId,
    },
    /// The agent now holds the contact (offer accepted or callback connected).
    Assigned {
        contact: ContactId,
        agent: AgentId,
    },
    /// A callback attempt failed; `retry_at` is when it re-enters the line, or
    /// `None` when attempts ran out (it leaves next).
    CallbackAttemptFailed {
        contact: ContactId,
        attempt: u32,
        retry_at: Option<Time>,
    },
    /// The agent's wrap-up of `contact` ended (done early or timed out).
    WrapUpEnded {
        contact: ContactId,
        agent: AgentId,
        timed_out: bool,
    },
    /// The contact left the core for good.
    Left {
        contact: ContactId,
        outcome: Outcome,
    },
    /// What a newcomer to the queue would find changed (see [`QueueStatus`]).
    QueueStatus {
        queue: QueueId,
        status: QueueStatus,
    },
    /// An input named something the core does not know, or was out of place.
    Ignored {
        reason: &'static str,
    },
}

/// How a contact left the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served by an agent and ended.
    Answered,
    /// The visitor left before any offer was made or while one was pending.
    Abandoned,
    /// The visitor left after at least one offer was declined or missed and none accepted.
    DeclinedAll,
    /// Not taken into the line (see the `Refused` event before it).
    Refused,
    /// A callback whose attempts all failed.
    CallbackFailed,
}
