//! The `clients` table: registered OAuth clients, read through a short-lived
//! cache.

use std::time::Duration;

use sqlx::Row as _;

use super::codec::{join, split};
use super::{Store, StoreError};

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    /// base64url SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub disabled: bool,
}

/// A client as `issuer clients list` shows it: no secret hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientListing {
    pub id: String,
    /// No secret: a public client.
    pub public: bool,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// How long a client read from the database is reused without reading it
/// again. Clients change only through the CLI (or by hand in the database),
/// so a change made while the issuer runs takes effect within this time; in
/// exchange, the token endpoint saves a database round trip per request.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

/// The cache behind [`Store::find_client`].
pub(super) fn client_cache() -> moka::future::Cache<String, Client> {
    moka::future::Cache::builder()
        .max_capacity(1024)
        .time_to_live(CLIENT_CACHE_TTL)
        .build()
}

impl Store {
    pub async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients (id, secret_hash, scopes, audiences, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.id)
        .bind(client.secret_hash.as_deref())
        .bind(join(&client.scopes))
        .bind(join(&client.audiences))
        .bind(i64::from(client.disabled))
        .bind(shared::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The client named `id`, from the cache if read less than
    /// [`CLIENT_CACHE_TTL`] ago. Unknown ids are not cached.
    pub async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        if let Some(client) = self.clients.get(id).await {
            return Ok(Some(client));
        }
        let client = self.read_client(id).await?;
        if let Some(client) = &client {
            self.clients.insert(client.id.clone(), client.clone()).await;
        }
        Ok(client)
    }

    async fn read_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(
            "SELECT id, secret_hash, scopes, audiences, disabled FROM clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Client {
                id: row.try_get("id")?,
                secret_hash: row.try_get("secret_hash")?,
                scopes: split(&row.try_get::<String, _>("scopes")?),
                audiences: split(&row.try_get::<String, _>("audiences")?),
                disabled: row.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    /// Every client, by id, without secret hashes.
    pub async fn list_clients(&self) -> Result<Vec<ClientListing>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, CAST(CASE WHEN secret_hash IS NULL THEN 1 ELSE 0 END AS BIGINT) AS public, scopes, audiences, disabled, created_at \
             FROM clients ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClientListing {
                    id: row.try_get("id")?,
                    public: row.try_get::<i64, _>("public")? != 0,
                    scopes: split(&row.try_get::<String, _>("scopes")?),
                    audiences: split(&row.try_get::<String, _>("audiences")?),
                    disabled: row.try_get::<i64, _>("disabled")? != 0,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Every scope some enabled client may receive, sorted (for discovery).
    pub async fn client_scopes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT scopes FROM clients WHERE disabled = 0")
            .fetch_all(&self.pool)
            .await?;
        let mut scopes = Vec::new();
        for row in &rows {
            scopes.extend(split(&row.try_get::<String, _>("scopes")?));
        }
        scopes.sort_unstable();
        scopes.dedup();
        Ok(scopes)
    }
}
