//! resource-api (under construction).
