//! The directory's REST API on the agent listener: the merged listing
//! (permanent directory joined with live presence, 002 Fig. 9), a stream of
//! presence changes, and the console's heartbeat.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::{Deserialize, Serialize};

use super::members::{DirectoryError, NumberRequest};
use super::number::PermanentNumber;
use super::presence::{PresenceState, Status};
use super::service::HEARTBEAT_TTL;
use crate::http::error::ApiError;
use crate::http::staff::Principal;
use crate::http::state::AppState;
use crate::store::{MemberId, MemberQuery, Role, now_ms};

/// Entries per page at most.
const MAX_PAGE: u32 = 100;
const DEFAULT_PAGE: u32 = 50;
/// Longest search accepted.
const MAX_SEARCH: usize = 64;

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: u32,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct Entry {
    id: MemberId,
    name: String,
    display_name: String,
    /// Grouped for reading: `2345 6789 1011`.
    numbers: Vec<String>,
    presence: PresenceState,
}

/// `GET /api/v1/directory?q=&offset=&limit=`: listed members of the tenant,
/// by name, with their numbers and presence. Unlisted members are reachable
/// by number only and never listed.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Agent, false)?;
    if params.q.chars().count() > MAX_SEARCH {
        return Err(ApiError::bad_request(format!(
            "search is at most {MAX_SEARCH} characters"
        )));
    }
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!("limit is 1 to {MAX_PAGE}")));
    }
    let query = MemberQuery {
        search: &params.q,
        include_unlisted: false,
        limit,
        offset: params.offset,
    };
    let members = state.store.members(principal.tenant, query).await?;
    let presence = &state.directory.presence;
    let entries: Vec<Entry> = members
        .into_iter()
        .map(|m| Entry {
            presence: presence.get(principal.tenant, m.id),
            id: m.id,
            numbers: m
                .numbers
                .iter()
                .filter_map(|n| PermanentNumber::parse(n).ok())
                .map(|n| n.to_string())
                .collect(),
            name: m.name,
            display_name: m.display_name,
        })
        .collect();
    Ok(Json(serde_json::json!({
        "members": entries,
        "offset": params.offset,
        "limit": limit,
    })))
}

/// `GET /api/v1/directory/events`: the tenant's presence changes as they
/// happen (server-sent events, `event: presence`); `event: lagged` when the
/// reader fell behind and should reload the list. For a staff user the
/// stream is also a device that rings: their calls by number and new
/// messages come as `event: call` (see [`super::calls`]).
pub async fn events(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError>
{
    principal.require(Role::Agent, false)?;
    let tenant = principal.tenant;
    let watch = state.directory.presence.watch(tenant);
    let session = principal.session_watch(&state);
    let calls = &state.directory.calls;
    let device = principal
        .user()
        .map(|u| (u.id, calls.sign_in(tenant, u.id)));
    let feed = Feed {
        watch,
        session,
        notices: calls.notices(),
        device,
    };
    let stream = futures_util::stream::unfold(feed, move |mut feed| async move {
        let event = feed.next(tenant).await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// What one page's event stream follows.
struct Feed {
    watch: super::presence::PresenceWatch,
    session: Option<crate::http::staff::SessionWatch>,
    notices: tokio::sync::broadcast::Receiver<super::calls::Notice>,
    /// The staff user and their ringing device, for call notices.
    device: Option<(crate::ids::UserId, super::calls::Device)>,
}

impl Feed {
    /// The next event for the page; `None` when the stream ends.
    async fn next(&mut self, tenant: crate::ids::TenantId) -> Option<Event> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let session_ended = async {
                match self.session.as_mut() {
                    Some(s) => {
                        s.ended().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                change = self.watch.next() => {
                    let change = change?;
                    return Some(
                        Event::default()
                            .event("presence")
                            .json_data(change)
                            .unwrap_or_else(|_| Event::default().event("lagged")),
                    );
                }
                notice = self.notices.recv() => match notice {
                    Ok(n) => {
                        let Some((user, device)) = &self.device else { continue };
                        let mine = n.tenant == tenant
                            && n.user == *user
                            && n.device.is_none_or(|d| d == device.id);
                        if mine {
                            return Some(
                                Event::default()
                                    .event("call")
                                    .json_data(n.body)
                                    .unwrap_or_else(|_| Event::default().event("lagged")),
                            );
                        }
                    }
                    Err(RecvError::Lagged(_)) => return Some(Event::default().event("lagged")),
                    Err(RecvError::Closed) => return None,
                },
                () = session_ended => return None,
            }
        }
    }
}

#[derive(Deserialize)]
pub struct Heartbeat {
    status: String,
}

/// `POST /api/v1/directory/heartbeat {"status": "online"}`: the signed-in
/// staff member's console is there (for [`HEARTBEAT_TTL`]); `offline` signs
/// the console off at once. Staff who are no directory member get 404.
pub async fn heartbeat(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<Heartbeat>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(user) = principal.user() else {
        return Err(ApiError::forbidden("a staff session is needed"));
    };
    let status: Status = body.status.parse().map_err(ApiError::bad_request)?;
    let member = state
        .store
        .member_by_user(principal.tenant, user.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    let ttl = i64::try_from(HEARTBEAT_TTL.as_millis()).unwrap_or(i64::MAX);
    let device = format!("console:{}", user.id.0);
    state.directory.presence.set(
        principal.tenant,
        member.id,
        &device,
        status,
        now,
        Some(now.saturating_add(ttl)),
    );
    Ok(Json(serde_json::json!({
        "member": member.id,
        "presence": state.directory.presence.get(principal.tenant, member.id),
    })))
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Unavailable(_) => {
                ApiError::new(StatusCode::CONFLICT, "unavailable", e.to_string())
            }
            DirectoryError::NoMember(_) | DirectoryError::NoNumber(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            DirectoryError::Store(e) => e.into(),
            DirectoryError::Format(_)
            | DirectoryError::Exhausted
            | DirectoryError::TooManyNumbers
            | DirectoryError::BadName
            | DirectoryError::WeakPassword => ApiError::bad_request(e.to_string()),
        }
    }
}

/// `GET /api/v1/members?q=&offset=&limit=`: every member with their numbers,
/// unlisted ones too (admins).
pub async fn admin_list(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, true)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE || params.q.chars().count() > MAX_SEARCH {
        return Err(ApiError::bad_request(format!(
            "limit is 1 to {MAX_PAGE}, search at most {MAX_SEARCH} characters"
        )));
    }
    let query = MemberQuery {
        search: &params.q,
        include_unlisted: true,
        limit,
        offset: params.offset,
    };
    let members = state.store.members(principal.tenant, query).await?;
    Ok(Json(serde_json::json!({ "members": members })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    name: String,
    display_name: Option<String>,
    #[serde(default = "listed_by_default")]
    listed: bool,
    /// A number asked for; without it one is drawn.
    vanity: Option<String>,
}

fn listed_by_default() -> bool {
    true
}

fn number_request(vanity: Option<&str>) -> Result<NumberRequest, ApiError> {
    Ok(match vanity {
        Some(text) => {
            NumberRequest::Vanity(PermanentNumber::parse(text).map_err(DirectoryError::from)?)
        }
        None => NumberRequest::Any,
    })
}

/// `POST /api/v1/members`: enrols a member (a customer; staff are linked by
/// the CLI) and gives them a number, drawn or the vanity one if free (409 if not).
pub async fn admin_create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewMember>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    principal.require(Role::Admin, true)?;
    let request = number_request(body.vanity.as_deref())?;
    let directory = &state.directory.directory;
    let display = body.display_name.as_deref().unwrap_or(&body.name);
    directory
        .enrol(principal.tenant, &body.name, display, None, body.listed)
        .await
        .map_err(|e| match e {
            DirectoryError::Store(crate::store::StoreError::Conflict { .. }) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "a member of that name exists",
            ),
            other => other.into(),
        })?;
    // A vanity number that is taken leaves the member enrolled without a
    // number; the error says why, and `number assign` gives one later.
    let number = directory
        .assign(principal.tenant, &body.name, request)
        .await?;
    let member = directory.member(principal.tenant, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "member": member, "number": number.to_string() })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveNumber {
    to: String,
}

/// `POST /api/v1/numbers/{number}/move {"to": "name"}`: gives a number the
/// tenant holds to another of its members (admins).
pub async fn admin_move(
    State(state): State<AppState>,
    principal: Principal,
    Path(number): Path<String>,
    Json(body): Json<MoveNumber>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, true)?;
    let number = PermanentNumber::parse(&number).map_err(DirectoryError::from)?;
    state
        .directory
        .directory
        .move_number(principal.tenant, &number, &body.to)
        .await?;
    Ok(Json(
        serde_json::json!({ "number": number.to_string(), "member": body.to }),
    ))
}
