//! Users and clients as data, the sets the suites share, and seeding an
//! issuer's store with them.

use std::collections::HashMap;

use crate::internals::{Client, Store, User, hash_client_secret, hash_password};

/// The issuer suite's user `alice` (role `admin`) and her password.
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "correct horse battery";
/// The issuer suite's confidential client `web`.
pub const WEB: &str = "web";
pub const WEB_SECRET: &str = "web-secret-0123456789";

/// One user to create.
#[derive(Debug, Clone)]
pub struct UserFixture {
    pub name: String,
    pub password: String,
    pub roles: Vec<String>,
}

/// One client to create; `secret: None` is a public client.
#[derive(Debug, Clone)]
pub struct ClientFixture {
    pub id: String,
    pub secret: Option<String>,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
}

/// A set of users and clients.
#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    pub users: Vec<UserFixture>,
    pub clients: Vec<ClientFixture>,
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Fixtures {
    /// No users, no clients.
    pub fn new() -> Self {
        Self::default()
    }

    /// The issuer suite's usual fixtures: user `alice` (role `admin`) and
    /// client `web` (scopes `items:read items:write`, audiences `orders`
    /// and `billing`).
    pub fn standard() -> Self {
        Self::new().user(ALICE, ALICE_PASSWORD, &["admin"]).client(
            WEB,
            Some(WEB_SECRET),
            &["items:read", "items:write"],
            &["orders", "billing"],
        )
    }

    /// Adds a user.
    pub fn user(mut self, name: &str, password: &str, roles: &[&str]) -> Self {
        self.users.push(UserFixture {
            name: name.into(),
            password: password.into(),
            roles: owned(roles),
        });
        self
    }

    /// Adds a client.
    pub fn client(
        mut self,
        id: &str,
        secret: Option<&str>,
        scopes: &[&str],
        audiences: &[&str],
    ) -> Self {
        self.clients.push(ClientFixture {
            id: id.into(),
            secret: secret.map(str::to_owned),
            scopes: owned(scopes),
            audiences: owned(audiences),
        });
        self
    }

    /// Creates every user and client in `store` (each distinct password
    /// is hashed once).
    pub async fn seed(&self, store: &Store) {
        let mut hashes: HashMap<&str, String> = HashMap::new();
        for user in &self.users {
            let hash = match hashes.get(user.password.as_str()) {
                Some(hash) => hash.clone(),
                None => {
                    let hash = hash_password(user.password.as_bytes()).unwrap();
                    hashes.insert(&user.password, hash.clone());
                    hash
                }
            };
            insert_user(store, &user.name, hash, &user.roles).await;
        }
        for client in &self.clients {
            insert_client(store, client).await;
        }
    }
}

/// Inserts an enabled user with no scope or audience limits.
pub async fn insert_user(store: &Store, name: &str, password_hash: String, roles: &[String]) {
    store
        .insert_user(&User {
            name: name.into(),
            password_hash,
            roles: roles.to_vec(),
            scopes: None,
            audiences: None,
            disabled: false,
        })
        .await
        .unwrap();
}

/// Inserts an enabled client.
pub async fn insert_client(store: &Store, client: &ClientFixture) {
    store
        .insert_client(&Client {
            id: client.id.clone(),
            secret_hash: client.secret.as_deref().map(hash_client_secret),
            scopes: client.scopes.clone(),
            audiences: client.audiences.clone(),
            disabled: false,
        })
        .await
        .unwrap();
}
