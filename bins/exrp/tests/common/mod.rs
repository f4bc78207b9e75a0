//! What EXRP's end-to-end tests and its benchmark share: the GC emulator with the org's
//! recording key, a Redis store, the real WebDAV server, and the EXRP service on them.
#![allow(dead_code)] // the tests and the benchmark each use a part

use engage_exrp::config::{WebDavSettings, WorkerSettings};
use engage_exrp::job::RetryPlan;
use engage_exrp::package::PrivateKey;
use engage_exrp::request::{InteractionEnd, StaRequest};
use engage_exrp::service::Service;
use engage_exrp::webdav::WebDav;
use engage_store::{Namespace, RedisConfig, RedisStore, Store};
use engage_test_support::TestRedis;
use gcex::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use gcex::{GcClient, RetryPolicy};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const HOW_TO_START: &str = "run scripts/test.sh (it installs and starts Apache httpd with mod_dav on 127.0.0.1:8090), or set ENGAGE_TEST_WEBDAV=http://user:password@host:port/collection";

/// The WebDAV collection URL (without credentials) and its user and password.
pub fn webdav_target() -> (String, Option<String>, Option<String>) {
    let raw = std::env::var("ENGAGE_TEST_WEBDAV")
        .unwrap_or_else(|_| "http://webdav:webdav-secret@127.0.0.1:8090/recordings".into());
    let w = engage_exrp::config::WebDavSettings::from_url_with_credentials(&raw)
        .unwrap_or_else(|e| panic!("bad ENGAGE_TEST_WEBDAV: {e}"));
    let (user, pass) = w.credentials();
    (
        w.url.clone(),
        user.map(str::to_string),
        pass.map(str::to_string),
    )
}

pub struct World {
    pub _redis: TestRedis,
    pub store: Arc<dyn Store>,
    pub ns: Namespace,
    pub gc: EmulatorHandle,
    pub private: PrivateKey,
    pub dav: (String, Option<String>, Option<String>),
    pub http: reqwest::Client,
}

pub async fn world() -> World {
    world_on(TestRedis::create().await).await
}

/// [`world`] with the store on `redis` (a private server a fault test controls).
pub async fn world_on(redis: TestRedis) -> World {
    let (private, public_b64) = PrivateKey::generate().unwrap();
    let gc = Emulator::start(
        EmulatorConfig::new("exrp-client", "exrp-secret")
            .with_rate_limit(0, Duration::from_secs(60))
            .with_recording_public_key(public_b64),
    )
    .await
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&RedisConfig::from_url(redis.url()).unwrap())
            .await
            .unwrap(),
    );
    let ns = Namespace::with_prefix(redis.prefix());
    let dav = webdav_target();
    let http = reqwest::Client::new();
    // WebDAV must answer with the credentials.
    let mut probe = http.request(reqwest::Method::OPTIONS, &dav.0);
    if let Some(u) = &dav.1 {
        probe = probe.basic_auth(u, dav.2.as_deref());
    }
    match probe.send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => panic!(
            "WebDAV at {} answered {}. {HOW_TO_START}",
            dav.0,
            r.status()
        ),
        Err(e) => panic!("cannot reach WebDAV at {}: {e}. {HOW_TO_START}", dav.0),
    }
    World {
        _redis: redis,
        store,
        ns,
        gc,
        private,
        dav,
        http,
    }
}

impl World {
    pub fn dav_request(&self, method: reqwest::Method, name: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}/{name}", self.dav.0));
        match &self.dav.1 {
            Some(u) => rb.basic_auth(u, self.dav.2.as_deref()),
            None => rb,
        }
    }

    /// What MCP does: PUT a recording into the storage.
    pub async fn put_recording(&self, name: &str, bytes: &[u8]) {
        let r = self
            .dav_request(reqwest::Method::PUT, name)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "WebDAV PUT: {}", r.status());
    }

    pub async fn dav_status(&self, name: &str) -> u16 {
        self.dav_request(reqwest::Method::GET, name)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn worker(&self, instance: &str) -> WorkerSettings {
        let mut w = WorkerSettings::default();
        w.poll = Duration::from_millis(50);
        w.claim_ttl = Duration::from_secs(30);
        w.retry = RetryPlan::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
            Duration::from_secs(600),
            1000,
        );
        w.instance_id = instance.to_string();
        w
    }

    pub async fn start(&self, instance: &str) -> Service {
        self.start_on(instance, &self.dav.0).await
    }

    /// [`World::start`] with the WebDAV collection at `webdav_url` (a relay, a fault).
    pub async fn start_on(&self, instance: &str, webdav_url: &str) -> Service {
        let gc = GcClient::new(self.gc.client_config().with_retry(RetryPolicy::fast())).unwrap();
        let webdav = WebDav::new(
            WebDavSettings::new(webdav_url, self.dav.1.clone(), self.dav.2.clone()),
            Duration::from_secs(60),
        )
        .unwrap();
        Service::start_with(
            self.worker(instance),
            self.store.clone(),
            self.ns.clone(),
            gc,
            webdav,
            "127.0.0.1",
            0,
        )
        .await
        .unwrap()
    }

    pub async fn post(&self, svc: &Service, req: &InteractionEnd) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("http://{}/api/v1/interaction-end", svc.http_addr))
            .json(req)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn get_json(&self, svc: &Service, path: &str) -> serde_json::Value {
        self.http
            .get(format!("http://{}{path}", svc.http_addr))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the emulator holds `n` uploads.
    pub async fn wait_uploads(
        &self,
        n: usize,
        within: Duration,
    ) -> Vec<gcex::emulator::UploadedRecording> {
        let t = Instant::now();
        loop {
            let u = self.gc.uploads();
            if u.len() >= n {
                return u;
            }
            assert!(
                t.elapsed() < within,
                "{} of {n} uploads after {within:?}",
                u.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn recording(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn segment(file: &str) -> InteractionEnd {
    InteractionEnd::new(
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:03:12.250Z",
        file,
    )
    .with_call_uuid("0001A2B3C4D5E6F7")
    .with_sta(StaRequest::new(
        "00000000-0000-4000-8000-0000000000aa",
        "en-US",
    ))
}

pub fn unique_file() -> String {
    format!("exrp-{}.opus", uuid::Uuid::new_v4().simple())
}
