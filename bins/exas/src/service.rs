//! The `exas` service: store + GC client + engine + REST (`/health`, `/metrics`, `/status`)
//! on `EXAS_PORT`, composed from an [`ExasConfig`].
//!
//! `/status` ([`ExasStatus`](crate::driver::ExasStatus)) shows whether this instance holds the
//! outbox lease, the outbox depth, the dead-letter count and the last item parked, the last
//! delivery failure and a held-back scope.

use super::config::ExasConfig;
use super::driver::{Driver, DriverConfig, DriverDeps, DriverHandle};
use engage_ops::health::Health;
use engage_ops::http::{OpsState, base_router, serve};
use engage_ops::metrics::Metrics;
use engage_statserver::client::{ClientConfig, Endpoint};
use engage_store::{Namespace, Store, StoreError};
use gcex::{GcClient, GcError};
use std::net::SocketAddr;
use std::sync::Arc;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The GC client could not be built (bad URL or missing credentials).
    #[error("cannot set up the Genesys Cloud client: {0}")]
    Gc(#[from] GcError),
    /// The REST port could not be bound.
    #[error("cannot listen on {addr} (EXAS_HOST/EXAS_PORT): {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    /// The engine.
    pub engine: DriverHandle,
    /// Where `/health` and `/metrics` are served.
    pub http_addr: SocketAddr,
    /// Dependency health.
    pub health: Health,
    /// Metrics.
    pub metrics: Metrics,
    http: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Starts everything: opens the store, builds the GC client, starts the engine and serves
    /// REST.
    pub async fn start(config: &ExasConfig) -> Result<Service, ServiceError> {
        let store: Arc<dyn Store> = config.store.open().await?;
        let ns = Namespace::new(&config.common.tenant_id, &config.common.org_id);
        let gc_config = match &config.gc {
            Some(gc) => gc.gc_config(&config.common.org_id),
            None => {
                let json = engage_store::JsonView::new(store.clone(), ns.clone());
                engage_store::ServiceConnection::wait_for(
                    &json,
                    "agent_state_sync",
                    std::time::Duration::from_secs(2),
                )
                .await
                .gc_config()
            }
        };
        let gc = GcClient::new(gc_config.with_insecure_http(config.common.gc_allow_http))?;
        let stat = ClientConfig::new(
            Endpoint::new(config.stat_primary.0.clone(), config.stat_primary.1),
            Some(Endpoint::new(
                config.stat_backup.0.clone(),
                config.stat_backup.1,
            )),
        );
        let mut engine_config = DriverConfig::new(stat);
        engine_config.stat_tenant = config.stat_tenant.clone();
        engine_config.scope_every = config.scope_every;
        engine_config.max_scope_removal_percent = config.max_scope_removal_percent;
        engine_config.scope_shrink_hold = config.scope_shrink_hold;
        if let Some(id) = &config.instance_id {
            engine_config.instance_name = id.clone();
        }
        Service::start_with(engine_config, store, ns, gc, &config.host, config.port).await
    }

    /// Starts with explicit parts (tests and the all-in-one binary).
    pub async fn start_with(
        engine_config: DriverConfig,
        store: Arc<dyn Store>,
        ns: Namespace,
        gc: GcClient,
        host: &str,
        port: u16,
    ) -> Result<Service, ServiceError> {
        let health = Health::new();
        let metrics = Metrics::new();
        let store = engage_ops::timed_store::timed(store, "exas", &metrics);
        let addr = engage_ops::http::listen_addr(host, port)
            .await
            .map_err(|e| ServiceError::Listen {
                addr: e.addr,
                source: e.source,
            })?;
        let engine = Driver::start(
            engine_config,
            DriverDeps {
                store,
                ns,
                gc,
                health: health.clone(),
                metrics: metrics.clone(),
            },
        );
        let status = engine.status_source();
        let status_health = health.clone();
        let router = base_router(OpsState {
            health: health.clone(),
            metrics: metrics.clone(),
        })
        .merge(axum::Router::new().route(
            "/status",
            axum::routing::get(move || {
                let status = status.clone();
                let health = status_health.clone();
                async move { axum::Json(status_envelope(&status.get(), &health)) }
            }),
        ));
        let (http_addr, http) = match serve(addr, router).await {
            Ok(v) => v,
            Err(source) => {
                engine.shutdown().await;
                return Err(ServiceError::Listen {
                    addr: addr.to_string(),
                    source,
                });
            }
        };
        Ok(Service {
            engine,
            http_addr,
            health,
            metrics,
            http,
        })
    }

    /// Stops the engine and the REST endpoint.
    pub async fn shutdown(self) {
        self.engine.shutdown().await;
        engage_ops::service::abort_and_wait(self.http).await;
    }

    /// Completes when the agent-state driver or the REST server ended without being asked
    /// to, with the reason (`/health` shows which worker is down).
    pub async fn worker_died(&mut self) -> String {
        let mut workers = [("http", &mut self.http)];
        tokio::select! {
            why = self.engine.died() => why,
            (name, why) = engage_ops::service::first_ended(&mut workers) => {
                self.health.down(&format!("worker.{name}"), why.clone());
                why
            }
        }
    }
}

impl engage_ops::service::RunningService for Service {
    fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
    fn stop(self) -> impl std::future::Future<Output = ()> + Send {
        self.shutdown()
    }
    fn died(&mut self) -> impl std::future::Future<Output = String> + Send {
        self.worker_died()
    }
}

/// `/status` in the services' common envelope ([`engage_ops::status`]): what is connected, what
/// is pending (the outbox, the dead letters), the last errors, and the driver's status under
/// `detail`.
pub fn status_envelope(
    st: &crate::driver::ExasStatus,
    health: &engage_ops::health::Health,
) -> serde_json::Value {
    let pending = std::collections::BTreeMap::from([
        ("outbox".to_string(), st.outbox_depth as u64),
        ("deadLetters".to_string(), st.dead_letters as u64),
    ]);
    let errors: Vec<String> = [
        st.last_error.clone(),
        st.last_dead_letter.clone(),
        st.scope_fault.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    engage_ops::status::service_status(
        "EXAS",
        health,
        pending,
        errors,
        serde_json::to_value(st).unwrap_or_default(),
    )
}
