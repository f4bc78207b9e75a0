//! The Redis backend, shared by every service and both instances of an EXCP HA pair.

use super::{Store, StoreError, StoreResult};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::fmt;
use std::time::Duration;

/// TLS to Redis (our addition; the guide's firewall table allows TCP/TLS to Redis but names
/// no setting): `EXEC_REDIS_TLS`, `EXEC_REDIS_TLS_CA_FILE`, `EXEC_REDIS_TLS_CERT_FILE`,
/// `EXEC_REDIS_TLS_KEY_FILE`. The server's certificate is always verified (host name
/// included), against the CA file when given, else the system's roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// PEM file of the CA(s) that signed the server's certificate; `None`: the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate for mutual TLS (with `key_file`).
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<std::path::PathBuf>,
}

/// How to reach Redis: the spec's `EXEC_REDIS_HOST`, `EXEC_REDIS_PORT`, `EXEC_REDIS_SECURE`
/// (password protected) and `EXEC_REDIS_PASSWORD`; TLS is our addition.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Redis host (`EXEC_REDIS_HOST`).
    pub host: String,
    /// Redis port (`EXEC_REDIS_PORT`, default 6379).
    pub port: u16,
    /// Password (`EXEC_REDIS_PASSWORD`), used when `EXEC_REDIS_SECURE` is true.
    pub password: Option<String>,
    /// Logical database index.
    pub db: i64,
    /// TLS (`rediss://`), or plain TCP when `None`.
    pub tls: Option<RedisTls>,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("db", &self.db)
            .field("tls", &self.tls)
            .finish()
    }
}

impl RedisConfig {
    /// A plain-TCP configuration without password, database 0.
    pub fn new(host: impl Into<String>, port: u16) -> RedisConfig {
        RedisConfig {
            host: host.into(),
            port,
            password: None,
            db: 0,
            tls: None,
        }
    }

    /// A configuration from a Redis URL (`redis://[:password@]host:port/db`, or `rediss://`
    /// for TLS verified against the system roots), as tests use.
    pub fn from_url(url: &str) -> Result<RedisConfig, String> {
        use redis::IntoConnectionInfo;
        let info = url
            .into_connection_info()
            .map_err(|e| format!("bad Redis URL: {e}"))?;
        let (host, port, tls) = match info.addr() {
            redis::ConnectionAddr::Tcp(h, p) => (h.clone(), *p, None),
            redis::ConnectionAddr::TcpTls { host, port, .. } => {
                (host.clone(), *port, Some(RedisTls::default()))
            }
            other => return Err(format!("unsupported Redis address {other:?}")),
        };
        Ok(RedisConfig {
            host,
            port,
            password: info.redis_settings().password().map(str::to_string),
            db: info.redis_settings().db(),
            tls,
        })
    }

    fn client(&self) -> StoreResult<redis::Client> {
        use redis::IntoConnectionInfo;
        let mut settings = redis::RedisConnectionInfo::default().set_db(self.db);
        if let Some(pw) = &self.password {
            settings = settings.set_password(pw.clone());
        }
        let Some(tls) = &self.tls else {
            let info = redis::ConnectionAddr::Tcp(self.host.clone(), self.port)
                .into_connection_info()
                .map_err(err("connect"))?
                .set_redis_settings(settings);
            return redis::Client::open(info).map_err(err("connect"));
        };
        let read = |what: &'static str, path: &Option<std::path::PathBuf>| {
            path.as_ref()
                .map(|p| {
                    std::fs::read(p).map_err(|e| StoreError::Tls {
                        message: format!("cannot read the {what} {}: {e}", p.display()),
                    })
                })
                .transpose()
        };
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return Err(StoreError::Tls {
                message: "EXEC_REDIS_TLS_CERT_FILE and EXEC_REDIS_TLS_KEY_FILE go together: set \
                          both for mutual TLS, or neither"
                    .into(),
            });
        }
        let root_cert = read("CA file (EXEC_REDIS_TLS_CA_FILE)", &tls.ca_file)?;
        let client_tls = match (
            read(
                "client certificate (EXEC_REDIS_TLS_CERT_FILE)",
                &tls.cert_file,
            )?,
            read("client key (EXEC_REDIS_TLS_KEY_FILE)", &tls.key_file)?,
        ) {
            (Some(client_cert), Some(client_key)) => Some(redis::ClientTlsConfig {
                client_cert,
                client_key,
            }),
            _ => None,
        };
        let info = redis::ConnectionAddr::TcpTls {
            host: self.host.clone(),
            port: self.port,
            insecure: false,
            tls_params: None,
        }
        .into_connection_info()
        .map_err(err("connect"))?
        .set_redis_settings(settings);
        redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls,
                root_cert,
            },
        )
        .map_err(|e| StoreError::Tls {
            message: format!("cannot set up TLS to Redis: {e}"),
        })
    }
}

/// The Redis store. Cloning shares the connection.
///
/// It sits on redis-rs' `ConnectionManager`, which reconnects by itself but fails the command in
/// flight; every operation here is idempotent, so callers retry on [`StoreError::is_retryable`].
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    where_: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("at", &self.where_)
            .finish()
    }
}

fn err(op: &'static str) -> impl FnOnce(redis::RedisError) -> StoreError {
    move |source| StoreError::Redis { op, source }
}

/// Escapes glob characters so a key prefix matches literally in `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisStore {
    /// Connects to Redis.
    pub async fn connect(config: &RedisConfig) -> StoreResult<RedisStore> {
        let client = config.client()?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(err("connect"))?;
        Ok(RedisStore {
            conn,
            where_: format!("{}:{}/{}", config.host, config.port, config.db),
        })
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(err("GET"))
    }

    async fn put(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async::<()>(&mut c)
            .await
            .map_err(err("SET"))
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool> {
        let mut c = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX");
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        let res: Option<String> = cmd.query_async(&mut c).await.map_err(err("SET NX"))?;
        Ok(res.is_some())
    }

    async fn put_ttl(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64)
            .query_async::<()>(&mut c)
            .await
            .map_err(err("SET PX"))
    }

    async fn set_add(&self, key: &str, member: &[u8], ttl: Option<Duration>) -> StoreResult<bool> {
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        p.atomic().cmd("SADD").arg(key).arg(member);
        if let Some(ttl) = ttl {
            p.cmd("PEXPIRE")
                .arg(key)
                .arg(ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64)
                .ignore();
        } else {
            p.cmd("PERSIST").arg(key).ignore();
        }
        let (added,): (i64,) = p.query_async(&mut c).await.map_err(err("SADD"))?;
        Ok(added > 0)
    }

    async fn set_contains(&self, key: &str, member: &[u8]) -> StoreResult<bool> {
        let mut c = self.conn.clone();
        let n: i64 = redis::cmd("SISMEMBER")
            .arg(key)
            .arg(member)
            .query_async(&mut c)
            .await
            .map_err(err("SISMEMBER"))?;
        Ok(n > 0)
    }

    async fn set_contains_any(&self, keys: &[String], member: &[u8]) -> StoreResult<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        for k in keys {
            p.cmd("SISMEMBER").arg(k).arg(member);
        }
        let found: Vec<i64> = p.query_async(&mut c).await.map_err(err("SISMEMBER"))?;
        Ok(found.iter().any(|n| *n > 0))
    }

    async fn set_members(&self, key: &str) -> StoreResult<Vec<Vec<u8>>> {
        let mut c = self.conn.clone();
        redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(err("SMEMBERS"))
    }

    async fn set_remove(&self, key: &str, member: &[u8]) -> StoreResult<bool> {
        let mut c = self.conn.clone();
        let n: i64 = redis::cmd("SREM")
            .arg(key)
            .arg(member)
            .query_async(&mut c)
            .await
            .map_err(err("SREM"))?;
        Ok(n > 0)
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let mut c = self.conn.clone();
        let n: i64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(err("DEL"))?;
        Ok(n > 0)
    }

    async fn scan_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let mut c = self.conn.clone();
        let pattern = format!("{}*", glob_escape(prefix));
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(err("SCAN"))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            // Only string values live under scanned prefixes; queues use their own prefix.
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(&mut c)
                .await
                .map_err(err("MGET"))?;
            for (k, v) in chunk.iter().zip(values) {
                if let Some(v) = v {
                    out.push((k.clone(), v));
                }
            }
        }
        Ok(out)
    }

    async fn queue_push(&self, queue: &str, item: &[u8]) -> StoreResult<()> {
        let mut c = self.conn.clone();
        redis::cmd("RPUSH")
            .arg(queue)
            .arg(item)
            .query_async::<i64>(&mut c)
            .await
            .map_err(err("RPUSH"))?;
        Ok(())
    }

    async fn queue_peek(&self, queue: &str, max: usize) -> StoreResult<Vec<Vec<u8>>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut c = self.conn.clone();
        redis::cmd("LRANGE")
            .arg(queue)
            .arg(0)
            .arg(max as i64 - 1)
            .query_async(&mut c)
            .await
            .map_err(err("LRANGE"))
    }

    async fn queue_pop(&self, queue: &str, count: usize) -> StoreResult<()> {
        if count == 0 {
            return Ok(());
        }
        let mut c = self.conn.clone();
        redis::cmd("LTRIM")
            .arg(queue)
            .arg(count as i64)
            .arg(-1)
            .query_async::<()>(&mut c)
            .await
            .map_err(err("LTRIM"))
    }

    async fn queue_len(&self, queue: &str) -> StoreResult<usize> {
        let mut c = self.conn.clone();
        let n: i64 = redis::cmd("LLEN")
            .arg(queue)
            .query_async(&mut c)
            .await
            .map_err(err("LLEN"))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map_err(err("PING"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[test]
    fn password_never_in_debug() {
        let c = RedisConfig {
            host: "h".into(),
            port: 1,
            password: Some("s3cret".into()),
            db: 0,
            tls: None,
        };
        let s = format!("{c:?}");
        assert!(!s.contains("s3cret"), "{s}");
        assert!(s.contains("redacted"));
    }

    #[test]
    fn url_parses() {
        let c = RedisConfig::from_url("redis://:pw@127.0.0.1:6380/3").unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 6380);
        assert_eq!(c.db, 3);
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.tls, None);
        let c = RedisConfig::from_url("rediss://127.0.0.1:6390/0").unwrap();
        assert_eq!(c.tls, Some(RedisTls::default()));
    }
}
