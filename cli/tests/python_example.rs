//! The Python example department system (examples/python/department.py) against the real
//! `govshare up`, authorization on: the operators set up the directory, the entry and the two
//! departments' credentials with the `govshare` command line, then the example submits a
//! request, hears the supplement notice, supplements, hears the approval and acknowledges its
//! notices, with nothing but nats-py and its seed files (docs/integration-guide.md).
//!
//! The venv is made by scripts/python-example.sh (target/python-venv, from PyPI). Without
//! python3 or the venv the test fails in CI (`CI=true`) and is skipped, saying why, elsewhere.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, BufReader};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_owned()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Runs the `govshare` command line against the test's bus; (exit code, stdout, stderr).
async fn govshare(creds_dir: &Path, nats_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(args)
        .env("GOVSHARE_NATS__URL", nats_url)
        .env("GOVSHARE_CREDS_DIR", creds_dir)
        .env_remove("GOVSHARE_CREDS")
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

/// Like [`govshare`], but the step must succeed; its stdout.
async fn ok(creds_dir: &Path, nats_url: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = govshare(creds_dir, nats_url, args).await;
    assert_eq!(code, 0, "govshare {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Issues `org`'s credentials and waits until the bus admits them (`govshare up` reloads its
/// authorization when the directory's keys change).
async fn credentials(creds_dir: &Path, nats_url: &str, org: &str) {
    ok(creds_dir, nats_url, &["bus", "credentials", "--for", org]).await;
    let body = format!(r#"{{"id":"{org}"}}"#);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let me = govshare(
            creds_dir,
            nats_url,
            &["call", "catalog", "query", "get_organisation", "--org", org, "--json", &body],
        )
        .await;
        if me.0 == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{org} never admitted: {}", me.2);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `govshare up`, stopped as with ctrl-c when dropped (also when the test fails): it stops its
/// services and takes its nats-server with it, which a SIGKILL would leave running.
struct Up(tokio::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            for _ in 0..150 {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.0.start_kill();
    }
}

/// Makes the venv; its python, or why not.
async fn venv_python() -> Result<PathBuf, String> {
    let script = repo().join("scripts/python-example.sh");
    let out = tokio::time::timeout(Duration::from_secs(600), tokio::process::Command::new(&script).output())
        .await
        .map_err(|_| format!("{} took over 10 minutes", script.display()))?
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} failed ({}): {stderr}", script.display(), out.status));
    }
    let python = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_owned();
    if python.is_empty() || !Path::new(&python).is_file() {
        return Err(format!("{} named no python: {stderr}", script.display()));
    }
    Ok(PathBuf::from(python))
}

/// Runs the example; asserts it passed, and shows what it printed.
async fn run_example(python: &Path, nats_url: &str, creds_dir: &Path, cursor: &Path) -> String {
    let started = std::time::Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(python)
            .arg(repo().join("examples/python/department.py"))
            .args(["--nats-url", nats_url, "--timeout", "30", "--cursor-file"])
            .arg(cursor)
            .arg("--creds-dir")
            .arg(creds_dir)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the example ends within 240 s")
    .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- examples/python/department.py ({:.1} s) ---\n{stdout}{stderr}", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "the example failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("all steps passed"), "{stdout}");
    stdout
}

#[tokio::test]
async fn the_python_example_department_system_runs_against_govshare_up() {
    if govshare_cli::platform::find_nats_server().is_none() {
        eprintln!("skipped: {}", govshare_cli::platform::NATS_MISSING);
        return;
    }
    let python = match venv_python().await {
        Ok(p) => p,
        Err(why) if in_ci() => panic!("the Python example needs its venv in CI: {why}"),
        Err(why) => {
            eprintln!("skipped (not in CI): {why}");
            return;
        }
    };

    // Given `govshare up` in a fresh folder (as cli/tests/up.rs starts it)
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up(tokio::process::Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(["up", "--nats-port", "0", "--http-port", "0"])
        .current_dir(dir.path())
        .env_remove("GOVSHARE_NATS__URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("govshare up starts"));
    let mut lines = BufReader::new(up.0.stdout.take().unwrap()).lines();
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

    // and the operators' setup: the authority, the two departments with their people and
    // credentials, and the provider's entry published (README "Talking to govshare")
    ok(
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
            "--roles",
            r#"{"administrators":["chen.ba"]}"#,
        ],
    )
    .await;
    credentials(&creds, &url, "gd-auth").await;
    for (id, name, roles) in [
        (
            "gd-gongan",
            "广东省公安厅",
            r#"{"administrators":["zhang.san"],"head":["wang.wu"],"sharing_office_head":["zhao.liu"]}"#,
        ),
        ("gd-weijian", "广东省卫生健康委员会", r#"{"administrators":["li.si"],"sharing_office_head":["qian.qi"]}"#),
    ] {
        ok(
            &creds,
            &url,
            &[
                "catalog",
                "register-org",
                "--org",
                "gd-auth",
                "--id",
                id,
                "--name",
                name,
                "--kind",
                "department",
                "--region",
                "440000",
                "--roles",
                roles,
            ],
        )
        .await;
        credentials(&creds, &url, id).await;
    }
    let entry_file = repo().join("docs/examples/entry.json");
    let drafted =
        ok(&creds, &url, &["catalog", "draft", "--org", "gd-gongan", "--file", entry_file.to_str().unwrap()]).await;
    let drafted: serde_json::Value = serde_json::from_str(&drafted).expect("draft answers JSON");
    let entry = drafted["entry_id"].as_str().expect("an entry id").to_owned();
    ok(
        &creds,
        &url,
        &[
            "catalog",
            "submit",
            &entry,
            "--org",
            "gd-gongan",
            "--secrecy-assessment",
            "BM-2026-001",
            "--pi-assessment",
            "PIA-2026-001",
            "--signed-off-by",
            "wang.wu",
        ],
    )
    .await;
    ok(&creds, &url, &["catalog", "approve", &entry, "--org", "gd-auth"]).await;
    // The requests service learns of a published entry from the catalog's event, a moment
    // later: until then a submission is refused with `entry_id (unknown)`. An empty form is
    // refused either way (nothing changes); wait until that is no longer among its problems.
    let probe = format!(r#"{{"entry_id":"{entry}"}}"#);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, stderr) = govshare(
            &creds,
            &url,
            &["call", "requests", "command", "submit_request", "--org", "gd-weijian", "--lang", "en", "--json", &probe],
        )
        .await;
        if stderr.contains("validation_failed") && !stderr.contains("- entry_id (unknown)") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "requests never learnt of entry {entry}: {stderr}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // When the department system runs, twice (the second reads its notices on from the cursor
    // the first kept), then it passes every step each time
    let cursor = dir.path().join("notice-cursor");
    let first = run_example(&python, &url, &creds, &cursor).await;
    assert!(first.contains("the retry got the first answer"), "{first}");
    let kept: u64 = std::fs::read_to_string(&cursor).expect("the cursor is kept").trim().parse().expect("a sequence");
    assert!(kept > 0);
    let second = run_example(&python, &url, &creds, &cursor).await;
    assert!(second.contains(&format!(", cursor {kept}\n")), "the second run starts at the kept cursor: {second}");
    drop(up);
}
