//! `excs`: the EX Engage Connector configuration sync service.
//!
//! Settings come from the environment (`excs --help` lists them, from
//! `engage_excs::service::SETTINGS`); `excs --check-config` validates them without starting
//! anything.

use engage_excs::service::{ApiState, Excs, ExcsSettings, SETTINGS, router};
use engage_ops::config::ProcessEnv;
use engage_ops::health::Health;
use engage_ops::http::{OpsState, serve};
use engage_ops::metrics::Metrics;
use engage_store::{IdMap, JsonView, Namespace};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = engage_ops::cli::answer(&SETTINGS, ExcsSettings::from_env) {
        return code;
    }
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    let settings = match ExcsSettings::from_env(&ProcessEnv) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("excs: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = engage_ops::logging::init("excs", &settings.log) {
        eprintln!("excs: cannot set up logging: {e}");
        return ExitCode::from(2);
    }
    tracing::info!(
        version = engage_ops::cli::VERSION,
        config = ?settings,
        "excs starting"
    );
    let health = Health::new();
    let metrics = Metrics::new();
    let store = match settings.store.open().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the store");
            return ExitCode::from(1);
        }
    };
    health.up("store", "connected");
    let store = engage_ops::timed_store::timed(store, "excs", &metrics);
    let db = match engage_excs::service::open_config_db(&settings.db) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the Config DB");
            return ExitCode::from(1);
        }
    };
    let ns = Namespace::new(&settings.common.tenant_id, &settings.common.org_id);
    let port = settings.port;
    let host = settings.host.clone();
    let token = settings.api_token.clone();
    let org_id = settings.common.org_id.clone();
    let excs = match Excs::start(
        settings,
        db,
        store.clone(),
        ns.clone(),
        health.clone(),
        metrics.clone(),
    )
    .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "EXCS cannot start");
            return ExitCode::from(1);
        }
    };
    let api = ApiState {
        org_id,
        progress: excs.progress(),
        ids: IdMap::new(store.clone(), ns.clone()),
        json: JsonView::new(store, ns),
    };
    let app = router(api, OpsState { health, metrics }, token);
    let addr = match engage_ops::http::listen_addr(&host, port).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen on EXCS_HOST:EXCS_PORT");
            return ExitCode::from(1);
        }
    };
    let mut http = match serve(addr, app).await {
        Ok((bound, task)) => {
            tracing::info!(%bound, "EXCS REST API listening");
            task
        }
        Err(e) => {
            tracing::error!(error = %e, %addr, "cannot listen on EXCS_HOST:EXCS_PORT");
            return ExitCode::from(1);
        }
    };
    // A cycle stopped half-way is safe: the reconciler is restart-safe (ids and applied hashes
    // are in the store), so the next start finishes it without duplicates.
    let mut workers = [("http", &mut http)];
    let code = tokio::select! {
        () = excs.run() => ExitCode::SUCCESS,
        signal = engage_ops::service::shutdown_signal() => {
            tracing::info!(signal, "excs stopping");
            ExitCode::SUCCESS
        }
        (name, why) = engage_ops::service::first_ended(&mut workers) => {
            tracing::error!(worker = name, reason = %why, "excs: a worker died; stopping so that the supervisor restarts the service");
            eprintln!("excs: a worker died: {why}");
            ExitCode::FAILURE
        }
    };
    engage_ops::service::abort_and_wait(http).await;
    if code == ExitCode::SUCCESS {
        tracing::info!("excs stopped cleanly");
    }
    code
}
