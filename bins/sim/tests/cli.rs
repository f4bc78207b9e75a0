//! `engage-sim` and `gcex-emulator` explain themselves without starting anything: `--help`
//! (with their settings), `--version` (with the git revision), `--check-config`.

use std::process::Command;

fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SIM: &str = env!("CARGO_BIN_EXE_engage-sim");
const EMULATOR: &str = env!("CARGO_BIN_EXE_gcex-emulator");

#[test]
fn engage_sim_help_version_check_config() {
    let (code, help, _) = run(SIM, &["--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(help.contains("seed-db") && help.contains("reads no environment variable"));
    let (code, v, _) = run(SIM, &["--version"], &[]);
    assert_eq!(code, Some(0));
    assert!(v.starts_with("engage-sim ") && v.contains("(git "), "{v}");
    let (code, out, _) = run(SIM, &["--check-config"], &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("configuration valid"), "{out}");
}

#[test]
fn gcex_emulator_help_version_check_config() {
    let (code, help, _) = run(EMULATOR, &["--help"], &[]);
    assert_eq!(code, Some(0));
    for var in [
        "GCEX_EMULATOR_LISTEN",
        "GCEX_EMULATOR_CLIENT_ID",
        "GCEX_EMULATOR_CLIENT_SECRET",
        "GCEX_EMULATOR_ORG_ID",
        "GCEX_EMULATOR_TOKEN_LIFETIME_SECS",
        "GCEX_EMULATOR_RATE_LIMIT_PER_MIN",
    ] {
        assert!(help.contains(var), "{var} not in: {help}");
    }
    assert!(help.contains("our additions"), "{help}");
    let (code, v, _) = run(EMULATOR, &["--version"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        v.starts_with("gcex-emulator ") && v.contains("(git "),
        "{v}"
    );

    let env = [
        ("GCEX_EMULATOR_CLIENT_SECRET", "emu-s3cret-value"),
        ("GCEX_EMULATOR_LISTEN", "127.0.0.1:1"),
    ];
    let (code, out, err) = run(EMULATOR, &["--check-config"], &env);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("127.0.0.1:1") && out.contains("configuration valid"),
        "{out}"
    );
    assert!(!out.contains("emu-s3cret-value"), "{out}");
    let (code, _, err) = run(
        EMULATOR,
        &["--check-config"],
        &[("GCEX_EMULATOR_LISTEN", "not-an-address")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("GCEX_EMULATOR_LISTEN") || err.contains("--listen"),
        "{err}"
    );
}
