//! The operator's `govshare region coordinator` contract: six digits on stdout, exit 0; a
//! clear message and a non-zero exit otherwise.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_govshare")).args(args).output().expect("govshare runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn sibling_cities_are_coordinated_by_their_province() {
    assert_eq!(run(&["region", "coordinator", "440100", "440300"]), (0, "440000\n".into(), String::new()));
}

#[test]
fn a_cross_province_pair_is_coordinated_nationally() {
    assert_eq!(run(&["region", "coordinator", "440106", "110105"]).1, "000000\n");
}

#[test]
fn a_malformed_or_unknown_code_exits_non_zero_with_a_reason() {
    let (code, out, err) = run(&["region", "coordinator", "44010", "440100"]);
    assert_ne!(code, 0);
    assert!(out.is_empty());
    assert!(err.contains("44010") && err.contains("six-digit"), "{err}");
    let (code, _, err) = run(&["region", "coordinator", "449999", "440100"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown region code 449999"), "{err}");
}
