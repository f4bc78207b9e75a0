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
        tracing::info!("{name} stopped cleanly");
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

/// Completes when the first of `workers` ends: tasks that should run until the service is
/// stopped, each with its name. Returns the name and a one-line reason (it returned, it
/// panicked with this message, it was cancelled). Pending forever for an empty list.
///
/// A handle that completed here must not be awaited again: stop code checks
/// [`tokio::task::JoinHandle::is_finished`] first.
pub async fn first_ended(
    workers: &mut [(&'static str, &mut tokio::task::JoinHandle<()>)],
) -> (&'static str, String) {
    std::future::poll_fn(|cx| {
        for (name, handle) in workers.iter_mut() {
            if let std::task::Poll::Ready(r) = std::pin::Pin::new(&mut **handle).poll(cx) {
                return std::task::Poll::Ready((*name, describe_end(name, r)));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Says how worker `name` ended.
pub fn describe_end(name: &str, ended: Result<(), tokio::task::JoinError>) -> String {
    match ended {
        Ok(()) => format!("worker {name} ended without being asked to stop"),
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic".into());
            format!("worker {name} panicked: {msg}")
        }
        Err(_) => format!("worker {name} was cancelled"),
    }
}

/// Aborts `handle` and waits for it (at most 10 s), unless it already ended: a handle that
/// [`first_ended`] saw end has been consumed and must not be awaited again.
pub async fn abort_and_wait(handle: tokio::task::JoinHandle<()>) {
    if handle.is_finished() {
        return;
    }
    handle.abort();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), handle).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_worker_to_end_is_named_with_its_reason() {
        let mut forever = tokio::spawn(std::future::pending::<()>());
        let mut panics = tokio::spawn(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            panic!("boom in the sender");
        });
        let (name, why) =
            first_ended(&mut [("engine", &mut forever), ("sender", &mut panics)]).await;
        assert_eq!(name, "sender");
        assert!(
            why.contains("panicked") && why.contains("boom in the sender"),
            "{why}"
        );
        // Stopping after that never awaits the consumed handle again (that would panic).
        abort_and_wait(panics).await;
        abort_and_wait(forever).await;

        let mut returns = tokio::spawn(async {});
        let (name, why) = first_ended(&mut [("http", &mut returns)]).await;
        assert_eq!(name, "http");
        assert!(why.contains("ended without being asked"), "{why}");
    }
}
