//! issuer (under construction).
