//! jwks-client (under construction).
