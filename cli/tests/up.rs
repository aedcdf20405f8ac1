//! `govshare up` and `govshare demo` run with authorization on (issue 12): the real binary,
//! its own nats-server and SQLite files in a temporary folder.

use std::{process::Stdio, time::Duration};

use tokio::io::{AsyncBufReadExt, BufReader};

async fn govshare(creds_dir: &std::path::Path, nats_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(args)
        .env("GOVSHARE_NATS__URL", nats_url)
        .env("GOVSHARE_CREDS_DIR", creds_dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .await
        .expect("govshare runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn up_admits_a_newly_issued_credential_without_a_restart_and_nobody_without_one() {
    if govshare_cli::platform::find_nats_server().is_none() {
        eprintln!("skipped: {}", govshare_cli::platform::NATS_MISSING);
        return;
    }
    // Given `govshare up` in a fresh folder
    let dir = tempfile::tempdir().unwrap();
    let mut up = tokio::process::Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(["up", "--nats-port", "0", "--http-port", "0"])
        .current_dir(dir.path())
        .env_remove("GOVSHARE_NATS__URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("govshare up starts");
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("govshare is up: NATS ") {
                return rest.split(',').next().unwrap().to_owned();
            }
        }
        panic!("govshare up ended before it was up");
    })
    .await
    .expect("up within 60 s");
    let creds = dir.path().join("data/bus/creds");
    assert!(creds.join("platform.nk").is_file() && creds.join("catalog.service.nk").is_file());

    // An anonymous connection is refused
    assert!(async_nats::ConnectOptions::new().connect(&url).await.is_err());

    // When the operators register an authority and issue its credentials
    let registered = govshare(
        &creds,
        &url,
        &[
            "catalog",
            "register-org",
            "--id",
            "gd-auth",
            "--name",
            "广东省政务服务和数据管理局",
            "--kind",
            "authority",
            "--region",
            "440000",
        ],
    )
    .await;
    assert_eq!(registered.0, 0, "{}", registered.2);
    let before = govshare(
        &creds,
        &url,
        &["call", "catalog", "query", "get_organisation", "--org", "gd-auth", "--json", r#"{"id":"gd-auth"}"#],
    )
    .await;
    assert_ne!(before.0, 0, "no credentials yet: {}", before.1);
    let issued = govshare(&creds, &url, &["bus", "credentials", "--for", "gd-auth"]).await;
    assert_eq!(issued.0, 0, "{}", issued.2);

    // Then, without a restart, gd-auth acts in its own name (up reloads the bus from the directory)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let me = govshare(
            &creds,
            &url,
            &["call", "catalog", "query", "get_organisation", "--org", "gd-auth", "--json", r#"{"id":"gd-auth"}"#],
        )
        .await;
        if me.0 == 0 {
            assert!(me.1.contains("gd-auth"), "{}", me.1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "gd-auth never admitted: {}", me.2);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // but not in another's: its seed with another organisation's name is refused by the bus
    let gd_auth_seed = creds.join("gd-auth.nk");
    let posing = govshare(
        &creds,
        &url,
        &[
            "call",
            "catalog",
            "query",
            "get_organisation",
            "--org",
            "gd-other",
            "--creds",
            gd_auth_seed.to_str().unwrap(),
            "--json",
            r#"{"id":"gd-auth"}"#,
        ],
    )
    .await;
    assert_ne!(posing.0, 0);
    assert!(posing.2.contains("Permissions Violation"), "{}", posing.2);
    let _ = up.kill().await;
}

#[tokio::test]
async fn the_demo_runs_with_authorization_on() {
    if govshare_cli::platform::find_nats_server().is_none() {
        eprintln!("skipped: {}", govshare_cli::platform::NATS_MISSING);
        return;
    }
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_govshare"))
            .arg("demo")
            .env_remove("GOVSHARE_NATS__URL")
            .output(),
    )
    .await
    .expect("the demo ends within 120 s")
    .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("demo complete"), "{stdout}");
    assert!(stdout.contains("Bus key added"), "each organisation got its own credentials: {stdout}");
}
