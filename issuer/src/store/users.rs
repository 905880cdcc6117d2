//! The `users` table: accounts that log in with the password grant.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::codec::{join, split};
use super::{Store, StoreError};

/// A user who logs in with the password grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub roles: Vec<String>,
    /// Scopes this user may receive; `None`: whatever the client may.
    pub scopes: Option<Vec<String>>,
    /// Audiences this user may receive; `None`: whatever the client may.
    pub audiences: Option<Vec<String>>,
    pub disabled: bool,
}

/// A user as `issuer users list` shows them: no password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    pub name: String,
    pub roles: Vec<String>,
    /// `None`: whatever the client may.
    pub scopes: Option<Vec<String>>,
    /// `None`: whatever the client may.
    pub audiences: Option<Vec<String>>,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl Store {
    /// Every user, by name, without password hashes.
    pub async fn list_users(&self) -> Result<Vec<UserListing>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, roles, scopes, audiences, disabled, created_at FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UserListing {
                    name: row.try_get("name")?,
                    roles: split(&row.try_get::<String, _>("roles")?),
                    scopes: row
                        .try_get::<Option<String>, _>("scopes")?
                        .map(|s| split(&s)),
                    audiences: row
                        .try_get::<Option<String>, _>("audiences")?
                        .map(|s| split(&s)),
                    disabled: row.try_get::<i64, _>("disabled")? != 0,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (name, password_hash, roles, scopes, audiences, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(join(&user.roles))
        .bind(user.scopes.as_deref().map(join))
        .bind(user.audiences.as_deref().map(join))
        .bind(i64::from(user.disabled))
        .bind(shared::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT name, password_hash, roles, scopes, audiences, disabled FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    /// Disables or re-enables a user. Returns whether the user exists.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes a user. Returns whether the user existed.
    pub async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        roles: split(&row.try_get::<String, _>("roles")?),
        scopes: row
            .try_get::<Option<String>, _>("scopes")?
            .map(|s| split(&s)),
        audiences: row
            .try_get::<Option<String>, _>("audiences")?
            .map(|s| split(&s)),
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}
