//! The shared `main` of the long-running services: read settings (one line naming every
//! missing variable, exit 2), set up logging, log the version and the effective
//! configuration (secrets redacted: every config type's `Debug` redacts them), start on a
//! multi-threaded runtime, serve until SIGINT (Ctrl-C) or SIGTERM, stop cleanly, saying which
//! signal stopped it. A `main` answers `--help`, `--version` and `--check-config` first, with
//! [`crate::cli::answer`].

use super::config::ConfigError;
use super::logging::LogConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

/// A started service the shared `main` can report and stop.
pub trait RunningService {
    /// Where its REST endpoint listens.
    fn http_addr(&self) -> SocketAddr;
    /// Stops it.
    fn stop(self) -> impl Future<Output = ()> + Send;
    /// Completes (with the reason) when a worker of the service died: the service can no
    /// longer do its job, and [`service_main`] ends the process with an error so that its
    /// supervisor (systemd, Docker, Kubernetes) restarts it. The default never completes.
    fn died(&mut self) -> impl Future<Output = String> + Send {
        std::future::pending()
    }
}

/// Runs service `name` (`excs`, `exas`, `excp`, …): `config` is its settings as read,
/// `log` picks the log settings, `start` starts it.
pub fn service_main<C, S, E, Fut>(
    name: &'static str,
    config: Result<C, ConfigError>,
    log: impl FnOnce(&C) -> &LogConfig,
    start: impl FnOnce(C) -> Fut,
) -> ExitCode
where
    C: std::fmt::Debug,
    Fut: Future<Output = Result<S, E>>,
    E: std::fmt::Display,
    S: RunningService,
{
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = super::logging::init(name, log(&config)) {
        eprintln!("{name}: cannot set up logging: {e}");
        return ExitCode::from(2);
    }
    tracing::info!(
        version = super::cli::VERSION,
        config = ?config,
        "{name} starting"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let service = match start(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "{name} cannot start");
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(addr = %service.http_addr(), "{name} started");
        let mut service = service;
        let died = tokio::select! {
            signal = shutdown_signal() => {
                tracing::info!(signal, "{name} stopping");
                None
            }
            why = service.died() => Some(why),
        };
        if let Some(why) = died {
            tracing::error!(reason = %why, "{name}: a worker died; stopping so that the supervisor restarts the service");
            eprintln!("{name}: a worker died: {why}");
            service.stop().await;
            return ExitCode::FAILURE;
        }
        service.stop().await;
        ExitCode::SUCCESS
    })
}

/// Waits for SIGINT (Ctrl-C) or, on Unix, SIGTERM (what `kill`, systemd, Docker and Kubernetes
/// send); returns the signal's name. If a handler cannot be installed, waits for the other.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
