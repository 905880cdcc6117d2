//! The drill against a native issuer and two resource services with short
//! key timings: a scheduled rotation, a manual one and an emergency
//! revocation under load.

use std::time::Duration;

use crate::helpers::{
    ADMIN_ID, ADMIN_SECRET, CLIENT_ID, CLIENT_SECRET, PASSWORD, jwtctl, spawn_issuer,
    spawn_resource,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_rotations_refuse_no_valid_request_and_revocation_converges() {
    // JWKS max-age 1 s, margin 1 s: pre-publication 3 s; a new key every 5 s.
    let issuer = spawn_issuer(|c| {
        c.jwks_max_age = Duration::from_secs(1);
        c.key_margin = Duration::from_secs(1);
        c.rotation_period = Duration::from_secs(5);
    })
    .await;
    let cache = Duration::from_secs(1);
    let orders = spawn_resource(&issuer.url, "orders", cache).await;
    let billing = spawn_resource(&issuer.url, "billing", cache).await;
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("drill.json");
    let svg_path = dir.path().join("drill.svg");
    let out = jwtctl(
        &[
            "drill",
            "--issuer",
            &issuer.url,
            "--resource",
            &format!("orders={orders}"),
            "--resource",
            &format!("billing={billing}"),
            "--admin-client",
            ADMIN_ID,
            "--client-id",
            CLIENT_ID,
            "--username",
            "alice",
            "--scope",
            "items:read",
            "--duration",
            "14s",
            "--rate",
            "40",
            "--refresh-every",
            "1s",
            "--window",
            "1s",
            "--op",
            "wait-scheduled",
            "--op",
            "rotate@6s",
            "--op",
            "revoke-active@9s",
            "--json",
            json_path.to_str().unwrap(),
            "--svg",
            svg_path.to_str().unwrap(),
        ],
        &[
            ("JWTCTL_ADMIN_SECRET", ADMIN_SECRET),
            ("JWTCTL_CLIENT_SECRET", CLIENT_SECRET),
            ("JWTCTL_PASSWORD", PASSWORD),
        ],
        "",
    )
    .await;
    println!("{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "drill failed:\n{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Valid requests refused: 0"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Result: PASS"));

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["refused_valid"], 0);
    let ops = doc["operations"].as_array().unwrap();
    let names: Vec<&str> = ops.iter().map(|o| o["op"].as_str().unwrap()).collect();
    assert_eq!(names, ["wait-scheduled", "rotate", "revoke-active"]);
    assert!(ops.iter().all(|o| o["ok"] == true), "{ops:?}");
    // Every service served the load.
    for s in doc["services"].as_array().unwrap() {
        assert!(s["outcomes"]["ok"].as_u64().unwrap() > 50, "{s}");
    }
    // Convergence measured for both services and within the cache bound.
    let revoke = &ops[2];
    let conv = revoke["convergence_max_s"].as_f64().unwrap();
    let bound = revoke["bound_s"].as_f64().unwrap();
    // The bound: max-age 1 s + the issuers' 1 s key sync + 1 s of polling.
    assert!(
        conv <= bound && bound <= 3.0,
        "convergence {conv} s, bound {bound} s"
    );
    assert_eq!(revoke["convergence_s"].as_array().unwrap().len(), 2);
    assert!(revoke["latency"]["before"]["n"].as_u64().unwrap() > 0);
    // JWKS fetches observed on the services.
    for j in doc["jwks_fetches"].as_array().unwrap() {
        assert!(
            j["fetch_ok"].as_u64().unwrap() + j["not_modified"].as_u64().unwrap() > 0,
            "{j}"
        );
    }
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("revoke-active") && svg.contains("polyline"));
}
