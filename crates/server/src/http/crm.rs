//! The CRM data API: merchant systems push their customers (ids, names, phone
//! numbers, emails, tier), entitlements and trouble tickets; the screen pop
//! shows them, and an inbound caller's number finds its customer. Reads are
//! for supervisors, admins and API keys; changes for admins and API keys.
//! Every statement names the caller's tenant, so another tenant's customer is
//! simply not found.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    error::{ApiError, JsonBody},
    staff::Principal,
};
use crate::store::{Customer, CustomerInput, Role, Ticket};

/// Customers in one page at most.
const MAX_PER_PAGE: i64 = 500;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// Only the customer this number (E.164) matches, as an inbound call would.
    phone: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// `GET /api/v1/customers?phone=&page=&per_page=`
pub async fn customers(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    if let Some(phone) = q.phone.as_deref() {
        let number = crate::phone::normalize_number(phone)
            .ok_or_else(|| ApiError::bad_request("phone must be an E.164 number"))?;
        let matched = match state
            .store
            .customer_ref_by_phone(principal.tenant, &number)
            .await?
        {
            Some(id) => state.store.customer(principal.tenant, &id).await?,
            None => None,
        };
        return Ok(Json(
            json!({ "customers": matched.into_iter().collect::<Vec<_>>() }),
        ));
    }
    let per_page = q.per_page.unwrap_or(MAX_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(format!(
            "per_page must be 1..={MAX_PER_PAGE}"
        )));
    }
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("page starts at 1"));
    }
    let offset = (page - 1).saturating_mul(per_page);
    let customers = state
        .store
        .customers(principal.tenant, per_page, offset)
        .await?;
    Ok(Json(
        json!({ "customers": customers, "page": page, "per_page": per_page }),
    ))
}

/// `GET /api/v1/customers/{external_id}`
pub async fn customer(
    State(state): State<AppState>,
    principal: Principal,
    Path(external_id): Path<String>,
) -> Result<Json<Customer>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    found(&state, &principal, &external_id).await
}

/// `PUT /api/v1/customers/{external_id}`: creates or replaces a customer
/// with their numbers, entitlements and tickets.
pub async fn put_customer(
    State(state): State<AppState>,
    principal: Principal,
    Path(external_id): Path<String>,
    JsonBody(input): JsonBody<CustomerInput>,
) -> Result<Json<Customer>, ApiError> {
    principal.require(Role::Admin, true)?;
    check_id(&external_id)?;
    input.check().map_err(ApiError::bad_request)?;
    state
        .store
        .upsert_customer(principal.tenant, &external_id, &input)
        .await?;
    found(&state, &principal, &external_id).await
}

/// `DELETE /api/v1/customers/{external_id}`: the customer, their numbers
/// and tickets. Their contacts' records keep the id.
pub async fn delete_customer(
    State(state): State<AppState>,
    principal: Principal,
    Path(external_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Admin, true)?;
    if state
        .store
        .delete_customer(principal.tenant, &external_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// `PUT /api/v1/customers/{external_id}/entitlements/{name}`: grants one.
pub async fn put_entitlement(
    State(state): State<AppState>,
    principal: Principal,
    Path((external_id, name)): Path<(String, String)>,
) -> Result<Json<Customer>, ApiError> {
    set_entitlement(state, principal, external_id, name, true).await
}

/// `DELETE /api/v1/customers/{external_id}/entitlements/{name}`: withdraws one.
pub async fn delete_entitlement(
    State(state): State<AppState>,
    principal: Principal,
    Path((external_id, name)): Path<(String, String)>,
) -> Result<Json<Customer>, ApiError> {
    set_entitlement(state, principal, external_id, name, false).await
}

async fn set_entitlement(
    state: AppState,
    principal: Principal,
    external_id: String,
    name: String,
    granted: bool,
) -> Result<Json<Customer>, ApiError> {
    principal.require(Role::Admin, true)?;
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::bad_request(
            "an entitlement's name must be 1-200 characters",
        ));
    }
    if granted
        && let Some(c) = state.store.customer(principal.tenant, &external_id).await?
        && !c.entitlements.contains(&name)
        && c.entitlements.len() >= crate::store::MAX_ENTITLEMENTS
    {
        return Err(ApiError::bad_request(format!(
            "a customer has at most {} entitlements",
            crate::store::MAX_ENTITLEMENTS
        )));
    }
    state
        .store
        .set_entitlement(principal.tenant, &external_id, &name, granted)
        .await?
        .ok_or_else(ApiError::not_found)?;
    found(&state, &principal, &external_id).await
}

/// A ticket as pushed: its reference is in the path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    subject: String,
    status: String,
}

/// `PUT /api/v1/customers/{external_id}/tickets/{reference}`: creates or
/// replaces one trouble ticket.
pub async fn put_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path((external_id, reference)): Path<(String, String)>,
    JsonBody(input): JsonBody<TicketInput>,
) -> Result<Json<Customer>, ApiError> {
    principal.require(Role::Admin, true)?;
    let ticket = Ticket {
        reference,
        subject: input.subject,
        status: input.status,
    };
    ticket.check().map_err(ApiError::bad_request)?;
    if let Some(c) = state.store.customer(principal.tenant, &external_id).await?
        && !c.tickets.iter().any(|t| t.reference == ticket.reference)
        && c.tickets.len() >= crate::store::MAX_TICKETS
    {
        return Err(ApiError::bad_request(format!(
            "a customer has at most {} tickets",
            crate::store::MAX_TICKETS
        )));
    }
    state
        .store
        .set_ticket(
            principal.tenant,
            &external_id,
            &ticket.reference,
            Some(&ticket),
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    found(&state, &principal, &external_id).await
}

/// `DELETE /api/v1/customers/{external_id}/tickets/{reference}`
pub async fn delete_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path((external_id, reference)): Path<(String, String)>,
) -> Result<Json<Customer>, ApiError> {
    principal.require(Role::Admin, true)?;
    state
        .store
        .set_ticket(principal.tenant, &external_id, &reference, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    found(&state, &principal, &external_id).await
}

fn check_id(external_id: &str) -> Result<(), ApiError> {
    if external_id.is_empty() || external_id.len() > 200 {
        return Err(ApiError::bad_request(
            "external_id must be 1-200 characters",
        ));
    }
    Ok(())
}

async fn found(
    state: &AppState,
    principal: &Principal,
    external_id: &str,
) -> Result<Json<Customer>, ApiError> {
    state
        .store
        .customer(principal.tenant, external_id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}
