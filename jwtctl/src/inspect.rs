//! `jwtctl inspect`: offline decoding with warnings, optional verification
//! through jwks-client. The token goes nowhere except the verification the
//! user asked for (and then only the JWKS is fetched; the token stays here).

use std::io::Read;
use std::process::ExitCode;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jwks_client::{HttpSettings, IssuerConfig, Verifier, VerifyError};
use serde_json::{Map, Value, json};

use crate::usage;
use service_kit::time::{relative, rfc3339, span};

/// Input larger than this is refused before any parsing.
const MAX_INPUT: usize = 64 * 1024;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtctl inspect eyJhbGciOi...
  echo \"$TOKEN\" | jwtctl inspect
  jwtctl inspect \"$TOKEN\" --issuer http://127.0.0.1:8080
  jwtctl inspect \"$TOKEN\" --jwks http://127.0.0.1:8080/.well-known/jwks.json --audience orders --json

Exit codes: 0 decoded (and verified, if asked); 1 verification failed; 2 malformed input.")]
pub struct Args {
    /// The token; `-` or nothing reads it from standard input. A leading
    /// `Bearer ` is ignored.
    pub token: Option<String>,
    /// Verify against this issuer (its discovery document names the JWKS).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Verify against this JWKS URL (the issuer is the token's `iss`).
    #[arg(long)]
    pub jwks: Option<String>,
    /// Audience to require when verifying (default: accept the token's own `aud`).
    #[arg(long)]
    pub audience: Option<String>,
    /// Allow plain http to a non-loopback issuer when verifying.
    #[arg(long)]
    pub allow_http: bool,
    /// Print one JSON document instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// One warning: a stable code and a sentence.
#[derive(Debug, Clone)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
}

/// A decoded (not verified) token.
#[derive(Debug)]
pub struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub warnings: Vec<Warning>,
}

fn lenient() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

fn segment(
    name: &str,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> anyhow::Result<Map<String, Value>> {
    let bytes = match shared::b64::decode(text) {
        Ok(b) => b,
        Err(_) => {
            let b = lenient()
                .decode(text)
                .map_err(|_| usage(format!("malformed token: the {name} is not base64url")))?;
            warnings.push(Warning {
                code: "non_canonical_base64",
                message: format!(
                    "the {name} is not canonical unpadded base64url; strict verifiers refuse it"
                ),
            });
            b
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(usage(format!(
            "malformed token: the {name} is JSON but not an object"
        ))),
        Err(_) => Err(usage(format!("malformed token: the {name} is not JSON"))),
    }
}

/// Decodes a compact JWS and collects warnings about its contents.
pub fn decode(token: &str, now: i64) -> anyhow::Result<Decoded> {
    if token.is_empty() {
        return Err(usage(
            "no token given (pass it as an argument or on standard input)",
        ));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'/'))
    {
        return Err(usage(
            "malformed token: it contains characters that cannot appear in a compact JWT",
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 5 {
        return Err(usage(
            "this is an encrypted JWT (JWE, five segments); it cannot be decoded without the key",
        ));
    }
    if parts.len() != 3 {
        return Err(usage(format!(
            "malformed token: a JWT has three dot-separated segments, this has {}",
            parts.len()
        )));
    }
    let mut warnings = Vec::new();
    let header = segment("header", parts[0], &mut warnings)?;
    let claims = segment("claim set", parts[1], &mut warnings)?;
    let mut warn = |code: &'static str, message: String| warnings.push(Warning { code, message });

    if token.len() > 8 * 1024 {
        warn(
            "too_large",
            format!(
                "the token is {} bytes; verifiers here refuse tokens over 8 KiB unread",
                token.len()
            ),
        );
    }
    match header.get("alg").and_then(Value::as_str) {
        None => warn("missing_alg", "the header has no `alg`".into()),
        Some(alg) if alg.eq_ignore_ascii_case("none") => warn(
            "alg_none",
            "alg is `none`: the token is unsigned and anyone can forge it; a verifier that accepts it is broken".into(),
        ),
        Some(alg) if alg.starts_with("HS") => warn(
            "alg_hmac",
            format!("alg is {alg} (a shared-secret HMAC): this issuer signs with RSA, so this is the key-confusion attack (HMAC keyed with the public key)"),
        ),
        Some("RS256") => {}
        Some(alg) => warn("alg_unexpected", format!("alg is {alg}; this system issues RS256 only")),
    }
    if parts[2].is_empty() {
        warn("no_signature", "the signature segment is empty".into());
    }
    if !header.contains_key("kid") {
        warn(
            "missing_kid",
            "the header has no `kid`: a verifier cannot pick the key and key rotation cannot work"
                .into(),
        );
    }
    match header.get("typ").and_then(Value::as_str) {
        Some(t)
            if t.eq_ignore_ascii_case(shared::claims::ACCESS_TOKEN_TYP)
                || t.eq_ignore_ascii_case("application/at+jwt") => {}
        Some(t) => warn(
            "typ",
            format!("typ is `{t}`, not `at+jwt` (RFC 9068): resource services here refuse it"),
        ),
        None => warn(
            "typ",
            "the header has no `typ` (RFC 9068 wants `at+jwt`): resource services here refuse it"
                .into(),
        ),
    }
    for name in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(name) {
            warn(
                "embedded_key",
                format!(
                    "the header carries `{name}`: a key or key URL chosen by the sender; never trust it"
                ),
            );
        }
    }
    if header.contains_key("crit") {
        warn(
            "crit",
            "the header carries `crit`; verifiers here refuse it".into(),
        );
    }

    let num = |name: &str| claims.get(name).and_then(Value::as_i64);
    for name in ["exp", "nbf", "iat"] {
        if claims.contains_key(name) && num(name).is_none() {
            warn(
                "bad_time",
                format!("`{name}` is not an integer number of seconds"),
            );
        }
    }
    match num("exp") {
        None => warn("missing_exp", "no `exp`: the token never expires".into()),
        Some(exp) if exp <= now => warn(
            "expired",
            format!("the token expired {} ago", span(now - exp)),
        ),
        Some(_) => {}
    }
    if let (Some(exp), Some(start)) = (num("exp"), num("iat").or(num("nbf")))
        && exp - start > 3600
    {
        warn(
            "long_lifetime",
            format!(
                "the lifetime is {} (over 1 h): a leaked token stays useful that long",
                span(exp - start)
            ),
        );
    }
    if let Some(nbf) = num("nbf")
        && nbf > now
    {
        warn(
            "not_yet_valid",
            format!("`nbf` is in the future ({})", relative(nbf, now)),
        );
    }
    if let Some(iat) = num("iat")
        && iat > now + 60
    {
        warn(
            "issued_in_future",
            format!(
                "`iat` is in the future ({}): check the issuer's clock",
                relative(iat, now)
            ),
        );
    }
    for name in ["iss", "aud", "sub"] {
        if !claims.contains_key(name) {
            warn("missing_claim", format!("no `{name}` claim"));
        }
    }
    const PERSONAL: [&str; 12] = [
        "email", "name", "phone", "address", "birth", "ssn", "surname", "gender", "passport",
        "iban", "credit", "postal",
    ];
    let personal: Vec<&str> = claims
        .keys()
        .filter(|k| {
            let k = k.to_ascii_lowercase();
            PERSONAL.iter().any(|p| k.contains(p)) && k != "client_name"
        })
        .map(String::as_str)
        .collect();
    if !personal.is_empty() {
        warn(
            "personal_data",
            format!(
                "personal-looking claims ({}): anyone holding the token can read them (JWTs are encoded, not encrypted)",
                personal.join(", ")
            ),
        );
    }
    Ok(Decoded {
        header,
        claims,
        warnings,
    })
}

fn read_input(arg: Option<String>) -> anyhow::Result<String> {
    let raw = match arg.as_deref() {
        Some("-") | None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .take(MAX_INPUT as u64 + 1)
                .read_to_end(&mut buf)
                .map_err(|_| usage("cannot read the token from standard input"))?;
            if buf.len() > MAX_INPUT {
                return Err(usage("input is larger than 64 KiB: not a token"));
            }
            String::from_utf8(buf).map_err(|_| usage("malformed token: input is not UTF-8 text"))?
        }
        Some(t) => {
            if t.len() > MAX_INPUT {
                return Err(usage("input is larger than 64 KiB: not a token"));
            }
            t.to_owned()
        }
    };
    let t = raw.trim();
    let t = t
        .strip_prefix("Bearer ")
        .or_else(|| t.strip_prefix("bearer "))
        .unwrap_or(t);
    Ok(t.trim().to_owned())
}

/// A verification failure as a sentence a person can act on.
pub fn explain(err: &VerifyError, issuer: &str) -> String {
    match err {
        VerifyError::TokenTooLarge => "the token is larger than 8 KiB, so it is refused unread".into(),
        VerifyError::Malformed => "the token is not a compact JWS (three base64url segments)".into(),
        VerifyError::BadBase64 => "a segment is not canonical unpadded base64url".into(),
        VerifyError::InvalidHeader => "the header is not a JSON object of the expected shape".into(),
        VerifyError::InvalidClaims => "the claims are not a JSON object of the expected shape (a claim has the wrong type)".into(),
        VerifyError::DuplicateMember => "a JSON member appears twice (a classic parser-confusion trick)".into(),
        VerifyError::AlgorithmNotAllowed => "the token's `alg` is not one the issuer signs with (only RS256 is accepted; `none` and HS* never are)".into(),
        VerifyError::CritHeader => "the header carries `crit`, which is refused".into(),
        VerifyError::ForbiddenHeader => "the header carries a key or key URL (jku, x5u, jwk or x5c), which is refused".into(),
        VerifyError::MissingKid => "the header has no `kid`, so no key can be chosen".into(),
        VerifyError::UnknownKid => format!("no key with this `kid` is published by {issuer}: the key was revoked or retired, or the token comes from elsewhere"),
        VerifyError::UnknownIssuer => format!("the token's `iss` is not {issuer}"),
        VerifyError::BadSignature => "the signature does not match: the token was altered or signed with another key".into(),
        VerifyError::Expired => "the token has expired".into(),
        VerifyError::NotYetValid => "the token is not valid yet (`nbf` in the future)".into(),
        VerifyError::IssuedInFuture => "the token was issued in the future (`iat`): a clock is wrong".into(),
        VerifyError::WrongIssuer => format!("the token's `iss` does not match the issuer {issuer}"),
        VerifyError::WrongAudience => "the token's `aud` does not contain the audience required".into(),
        VerifyError::WrongType => "the header `typ` is missing or not `at+jwt`".into(),
        VerifyError::MissingClaim(c) => format!("the required claim `{c}` is missing"),
        VerifyError::KeysUnavailable => format!("the keys of {issuer} could not be fetched (unreachable, or not a valid JWKS)"),
        other => format!("the token was refused: {other}"),
    }
}

/// Verification result: Ok(kid) or Err((code, sentence)).
async fn verify(args: &Args, token: &str, decoded: &Decoded) -> Result<String, (String, String)> {
    let iss = match (
        &args.issuer,
        decoded.claims.get("iss").and_then(Value::as_str),
    ) {
        (Some(i), _) => i.trim_end_matches('/').to_owned(),
        (None, Some(i)) => i.to_owned(),
        (None, None) => {
            return Err((
                "missing_claim".into(),
                "the token has no `iss`, so give --issuer".into(),
            ));
        }
    };
    let audiences: Vec<String> = match &args.audience {
        Some(a) => vec![a.clone()],
        None => match decoded.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => vec![],
        },
    };
    if audiences.is_empty() {
        return Err((
            "missing_claim".into(),
            "the token has no `aud`; give --audience".into(),
        ));
    }
    let mut cfg = IssuerConfig::new(iss.clone()).audiences(audiences);
    if let Some(jwks) = &args.jwks {
        cfg = cfg.jwks_url(jwks.clone());
    }
    let verifier = Verifier::builder()
        .issuer(cfg)
        .http(HttpSettings {
            allow_insecure_http: args.allow_http,
            ..HttpSettings::default()
        })
        .build()
        .map_err(|e| ("config".to_owned(), format!("cannot verify: {e}")))?;
    match verifier.verify(token).await {
        Ok(_) => Ok(decoded
            .header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()),
        Err(e) => Err((format!("{e:?}"), explain(&e, &iss))),
    }
}

fn times(claims: &Map<String, Value>, now: i64) -> Vec<(&'static str, i64, String)> {
    ["iat", "nbf", "exp"]
        .into_iter()
        .filter_map(|name| {
            let at = claims.get(name)?.as_i64()?;
            let rel = match name {
                "exp" if at > now => format!("expires {}", relative(at, now)),
                "exp" => format!("expired {}", relative(at, now)),
                "iat" => format!("issued {}", relative(at, now)),
                _ if at > now => format!("valid {}", relative(at, now)),
                _ => format!("valid since {}", relative(at, now)),
            };
            Some((name, at, rel))
        })
        .collect()
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let token = read_input(args.token.clone())?;
    let now = shared::now_unix();
    let decoded = decode(&token, now)?;
    let verification = if args.issuer.is_some() || args.jwks.is_some() {
        Some(verify(&args, &token, &decoded).await)
    } else {
        None
    };
    let times = times(&decoded.claims, now);
    if args.json {
        let doc = json!({
            "header": decoded.header,
            "claims": decoded.claims,
            "times": times.iter().map(|(n, at, rel)| (n.to_string(), json!({"unix": at, "utc": rfc3339(*at), "relative": rel}))).collect::<Map<_, _>>(),
            "warnings": decoded.warnings.iter().map(|w| json!({"code": w.code, "message": w.message})).collect::<Vec<_>>(),
            "verification": match &verification {
                None => json!({"checked": false}),
                Some(Ok(kid)) => json!({"checked": true, "valid": true, "kid": kid}),
                Some(Err((code, reason))) => json!({"checked": true, "valid": false, "error": code, "reason": reason}),
            },
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "Header\n{}",
            indent(&serde_json::to_string_pretty(&decoded.header)?)
        );
        println!(
            "Claims\n{}",
            indent(&serde_json::to_string_pretty(&decoded.claims)?)
        );
        if !times.is_empty() {
            println!("Times");
            for (name, at, rel) in &times {
                println!("  {name}  {}  ({rel})", rfc3339(*at));
            }
        }
        if decoded.warnings.is_empty() {
            println!("Warnings: none");
        } else {
            println!("Warnings ({})", decoded.warnings.len());
            for w in &decoded.warnings {
                println!("  ! [{}] {}", w.code, w.message);
            }
        }
        match &verification {
            None => {
                println!("Signature: not verified (offline decode; add --issuer URL or --jwks URL)")
            }
            Some(Ok(kid)) => println!("Signature: VALID (key {kid}); claims accepted"),
            Some(Err((_, reason))) => println!("Signature: INVALID: {reason}"),
        }
    }
    Ok(match verification {
        Some(Err(_)) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
