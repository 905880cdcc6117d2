//! The issuer suite's view of the test kit: an in-process issuer on port 0
//! with the standard fixtures, its database selection, token checks.

pub use testkit::{
    KEK, TestApp, ensure_database, expect_oauth_error, kid_of, kids, postgres_url, spawn_app,
    spawn_app_with, spawn_app_with_clock, spawn_with, spawn_with_clock, test_config,
    test_database_url, verify_with_jwks,
};
