//! `GET /v1/items` (scope `items:read`) and `POST /v1/items` (scope
//! `items:write`). Items live in this instance's memory, bounded: when full,
//! the oldest item makes room.

use std::collections::VecDeque;
use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use jwks_client::actix::{AuthError, Bearer};
use serde::{Deserialize, Serialize};

use super::error;

pub const READ_SCOPE: &str = "items:read";
pub const WRITE_SCOPE: &str = "items:write";
/// Largest accepted `POST /v1/items` body.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
const MAX_NAME_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: u64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    name: String,
    #[serde(default)]
    note: Option<String>,
}

/// This instance's items, oldest first.
#[derive(Debug)]
pub struct ItemStore {
    capacity: usize,
    inner: Mutex<(u64, VecDeque<Item>)>,
}

impl ItemStore {
    pub fn new(capacity: usize) -> Self {
        ItemStore {
            capacity: capacity.max(1),
            inner: Mutex::new((0, VecDeque::new())),
        }
    }

    fn add(&self, name: String, note: Option<String>, created_by: String) -> Item {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (next_id, items) = &mut *guard;
        *next_id += 1;
        let item = Item {
            id: *next_id,
            name,
            note,
            created_by,
            created_at: shared::now_unix(),
        };
        if items.len() == self.capacity {
            items.pop_front();
        }
        items.push_back(item.clone());
        item
    }

    fn list(&self) -> Vec<Item> {
        let guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.1.iter().cloned().collect()
    }
}

pub async fn list(token: Bearer, store: web::Data<ItemStore>) -> Result<HttpResponse, AuthError> {
    token.require_scope(READ_SCOPE)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": store.list() })))
}

pub async fn create(
    token: Bearer,
    store: web::Data<ItemStore>,
    body: web::Json<NewItem>,
) -> Result<HttpResponse, AuthError> {
    token.require_scope(WRITE_SCOPE)?;
    let NewItem { name, note } = body.into_inner();
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "name must be 1 to 100 characters",
        ));
    }
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "note must be at most 1000 characters",
        ));
    }
    let item = store.add(name, note, token.0.sub.clone());
    Ok(HttpResponse::Created().json(item))
}

/// JSON body settings: size cap and errors as JSON, never the parser's text.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| {
            let response = match &err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "body is larger than 4 KiB",
                ),
                actix_web::error::JsonPayloadError::ContentType => error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "invalid_request",
                    "body must be application/json",
                ),
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "body must be a JSON object with a name",
                ),
            };
            tracing::debug!(error = %err, "rejected item body");
            actix_web::error::InternalError::from_response(err, response).into()
        })
}
