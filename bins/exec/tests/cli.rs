//! `exec` explains itself without starting anything: `--help` lists the settings it reads,
//! `--version` carries the git revision, `--check-config` validates them (0) or says what is
//! wrong in one line (2), secrets redacted.

use std::process::Command;

fn exec(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exec"));
    cmd.args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run exec");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_version_and_check_config() {
    let (code, help, _) = exec(&["--help"], &[]);
    assert_eq!(code, Some(0));
    // Every variable exec reads (doctor's Config DB; confirm-removals' org, tenant and store).
    for group in [
        engage_excs::service::CONFIG_DB_SETTINGS,
        engage_ops::config::COMMON_SETTINGS,
        engage_ops::config::STORE_SETTINGS,
    ] {
        for s in group.settings {
            assert!(help.contains(s.name), "{} not in: {help}", s.name);
        }
    }
    assert!(
        help.contains("--check-config") && help.contains("doctor"),
        "{help}"
    );

    let (code, v, _) = exec(&["--version"], &[]);
    assert_eq!(code, Some(0));
    assert!(v.starts_with("exec ") && v.contains("(git "), "{v}");

    let (code, _, err) = exec(&["--check-config"], &[]);
    assert_eq!(code, Some(2));
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("EXCS_CONFIG_DB_HOST"), "{err}");

    let env = [
        ("EXCS_CONFIG_DB_HOST", "127.0.0.1"),
        ("EXCS_CONFIG_DB_NAME", "config"),
        ("EXCS_CONFIG_DB_USER", "genesys"),
        ("EXCS_CONFIG_DB_PASSWORD", "db-pa55-value"),
    ];
    let (code, out, err) = exec(&["--check-config"], &env);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("configuration valid"), "{out}");
    assert!(
        !out.contains("db-pa55-value") && !err.contains("db-pa55-value"),
        "{out}"
    );
}

/// `exec confirm-removals VALUE` writes the confirmation EXCS's next poll uses, into the store
/// the EXEC_* settings name (here an embedded one); a value that confirms nothing is refused.
#[test]
fn confirm_removals_writes_the_confirmation_into_the_store() {
    let dir = std::env::temp_dir().join(format!("exec-confirm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.redb");
    let path_s = path.display().to_string();
    let env = [
        ("EXEC_ORG_ID", "org"),
        ("EXEC_TENANT_ID", "101"),
        ("EXEC_STORE_PATH", path_s.as_str()),
    ];
    let (code, _, err) = exec(&["confirm-removals", "nothing"], &env);
    assert_eq!(code, Some(2), "{err}");
    let (code, out, err) = exec(&["confirm-removals", "12"], &env);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("next poll"), "{out}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = rt.block_on(async {
        let store: std::sync::Arc<dyn engage_store::Store> =
            std::sync::Arc::new(engage_store::EmbeddedStore::open(&path).unwrap());
        engage_store::JsonView::new(store, engage_store::Namespace::new("101", "org"))
            .get::<String>(engage_store::schema::keys::EXCS_CONFIRM_REMOVALS)
            .await
            .unwrap()
    });
    assert_eq!(stored.as_deref(), Some("12"));
    let (code, _, err) = exec(&["confirm-removals", "5"], &[("EXEC_TENANT_ID", "101")]);
    assert_eq!(code, Some(2), "settings missing: {err}");
    assert!(err.contains("EXEC_ORG_ID"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
