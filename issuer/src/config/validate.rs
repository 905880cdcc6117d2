//! The cross-field checks of the key timings: a configuration whose
//! timings could let a resource service meet an unknown `kid`, or lose a key
//! whose tokens are still valid, is refused.

use service_kit::config::ConfigError;

use super::Config;

impl Config {
    /// Checks that the key timings cannot let a resource service meet an
    /// unknown `kid` or lose a key whose tokens are still valid. Called by
    /// [`Config::from_reader`] and again at start-up (tests build `Config`
    /// directly).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let min_prepublish = self.jwks_max_age * 2 + self.key_margin;
        if self.prepublish() < min_prepublish {
            return Err(ConfigError::new(
                "ISSUER_KEY_PREPUBLISH",
                format!(
                    "must be at least 2 x ISSUER_JWKS_MAX_AGE + ISSUER_KEY_MARGIN ({}s): a \
                     resource service could meet a token signed by a key it has not fetched yet",
                    min_prepublish.as_secs()
                ),
            ));
        }
        let min_retire = self.access_token_ttl + self.key_margin + self.jwks_max_age;
        if self.retire_delay() < min_retire {
            return Err(ConfigError::new(
                "ISSUER_KEY_RETIRE_DELAY",
                format!(
                    "must be at least ISSUER_ACCESS_TOKEN_TTL + ISSUER_KEY_MARGIN + \
                     ISSUER_JWKS_MAX_AGE ({}s): a key would leave the JWKS while tokens it \
                     signed are still valid",
                    min_retire.as_secs()
                ),
            ));
        }
        if self.rotation_period < self.prepublish() {
            return Err(ConfigError::new(
                "ISSUER_KEY_ROTATION_PERIOD",
                format!(
                    "must be at least the pre-publication lead ({}s): a new key could not be \
                     published long enough before it signs",
                    self.prepublish().as_secs()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use service_kit::config::EnvReader;

    use super::super::Config;

    #[test]
    fn unsafe_key_timings_are_refused_with_the_reason() {
        for (vars, var, why) in [
            (
                vec![("ISSUER_KEY_PREPUBLISH", "5m")],
                "ISSUER_KEY_PREPUBLISH",
                "has not fetched",
            ),
            (
                vec![("ISSUER_KEY_RETIRE_DELAY", "10m")],
                "ISSUER_KEY_RETIRE_DELAY",
                "still valid",
            ),
            (
                vec![
                    ("ISSUER_JWKS_MAX_AGE", "3600"),
                    ("ISSUER_KEY_ROTATION_PERIOD", "1h"),
                ],
                "ISSUER_KEY_ROTATION_PERIOD",
                "published long enough",
            ),
        ] {
            let err = Config::from_reader(&EnvReader::from_map(vars)).err();
            assert_eq!(err.as_ref().map(|e| e.var.as_str()), Some(var));
            let message = err.map(|e| e.message).unwrap_or_default();
            assert!(message.contains(why), "{message}");
        }
        // The minimum itself is fine.
        let env = EnvReader::from_map([
            ("ISSUER_KEY_PREPUBLISH", "660"),
            ("ISSUER_KEY_RETIRE_DELAY", "960"),
        ]);
        assert!(Config::from_reader(&env).is_ok());
        // Demo timings: a rotation every few minutes is allowed when the
        // JWKS max-age leaves room for the pre-publication lead.
        let env = EnvReader::from_map([
            ("ISSUER_JWKS_MAX_AGE", "10"),
            ("ISSUER_KEY_MARGIN", "5s"),
            ("ISSUER_ACCESS_TOKEN_TTL", "1m"),
            ("ISSUER_KEY_ROTATION_PERIOD", "3m"),
        ]);
        assert!(Config::from_reader(&env).is_ok());
    }
}
