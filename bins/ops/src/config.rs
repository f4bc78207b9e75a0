//! Settings from environment variables with the deployment guide's names.
//!
//! Every service reads its settings through a [`Lookup`] (the process environment in
//! production, a map in tests) with an [`EnvReader`] that collects *every* missing or invalid
//! mandatory variable, so start-up fails once with one line naming each of them.

use crate::settings::{Setting, SettingGroup};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Where settings come from.
pub trait Lookup {
    /// The value of a variable, if set (empty strings count as unset).
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Lookup for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Lookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

impl Lookup for BTreeMap<&str, &str> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name)
            .map(|v| v.to_string())
            .filter(|v| !v.trim().is_empty())
    }
}

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The variable name.
    pub name: String,
    /// What it is for, or why its value is wrong.
    pub what: String,
    /// Whether it was missing (else invalid).
    pub missing: bool,
}

/// All the problems found while reading a service's settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Every problem, in the order they were found.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .problems
            .iter()
            .map(|p| {
                if p.missing {
                    format!("missing {} ({})", p.name, p.what)
                } else {
                    format!("invalid {}: {}", p.name, p.what)
                }
            })
            .collect();
        write!(f, "configuration: {}", parts.join("; "))
    }
}

/// Reads variables and collects problems instead of stopping at the first.
pub struct EnvReader<'a> {
    lookup: &'a dyn Lookup,
    problems: Vec<ConfigProblem>,
}

impl fmt::Debug for EnvReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvReader")
            .field("problems", &self.problems)
            .finish()
    }
}

impl<'a> EnvReader<'a> {
    /// A reader over `lookup`.
    pub fn new(lookup: &'a dyn Lookup) -> EnvReader<'a> {
        EnvReader {
            lookup,
            problems: Vec::new(),
        }
    }

    /// An optional string.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.lookup.get(name).map(|v| v.trim().to_string())
    }

    /// A mandatory string; records a problem (and returns an empty string) when missing.
    pub fn required(&mut self, name: &str, what: &str) -> String {
        match self.optional(name) {
            Some(v) => v,
            None => {
                self.problems.push(ConfigProblem {
                    name: name.to_string(),
                    what: what.to_string(),
                    missing: true,
                });
                String::new()
            }
        }
    }

    /// An optional parsed value with a default; records a problem when it does not parse.
    pub fn parsed_or<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.optional(name) {
            None => default,
            Some(v) => match v.parse::<T>() {
                Ok(t) => t,
                Err(e) => {
                    self.problems.push(ConfigProblem {
                        name: name.to_string(),
                        what: format!("`{v}`: {e}"),
                        missing: false,
                    });
                    default
                }
            },
        }
    }

    /// A boolean (`true`/`false`, `1`/`0`, `yes`/`no`) with a default.
    pub fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.optional(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(v) => {
                self.problems.push(ConfigProblem {
                    name: name.to_string(),
                    what: format!("`{v}` is not true/false"),
                    missing: false,
                });
                default
            }
        }
    }

    /// A comma-separated list (items trimmed, empty items dropped).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records a problem found by the caller's own validation.
    pub fn invalid(&mut self, name: &str, why: &str) {
        self.problems.push(ConfigProblem {
            name: name.to_string(),
            what: why.to_string(),
            missing: false,
        });
    }

    /// Ends reading: `Ok` if nothing was missing or invalid.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// The table of what [`CommonConfig::read`] reads.
pub const COMMON_SETTINGS: SettingGroup = SettingGroup::new(
    "Org and tenant (every service)",
    &[
        Setting::guide(
            "EXEC_ORG_ID",
            "EX org id (GC Admin > Organization Settings > Organization Details > Advanced)",
        )
        .mandatory(),
        Setting::guide(
            "EXEC_TENANT_ID",
            "Engage tenant id, e.g. the DBID of the Tenant object; names the store namespace",
        )
        .mandatory(),
        Setting::ours("TENANT_NAME", "tenant name in GC descriptions")
            .default_value("TENANT_ID, else default_tenant"),
        Setting::ours(
            "TENANT_ID",
            "tenant name in GC descriptions when TENANT_NAME is unset",
        ),
        Setting::ours(
            "EXEC_GC_ALLOW_HTTP",
            "accept plain http:// GC URLs (a test emulator only; GC itself is https:// only, and an http:// URL is refused without this)",
        )
        .default_value("false"),
    ],
);

/// The table of what [`store_settings`] reads.
pub const STORE_SETTINGS: SettingGroup = SettingGroup::new(
    "Shared store (every service)",
    &[
        Setting::guide(
            "EXEC_REDIS_HOST",
            "Redis host of the shared store (the guide's mandatory setting); unset: the embedded store at EXEC_STORE_PATH",
        ),
        Setting::guide("EXEC_REDIS_PORT", "Redis port").default_value("6379"),
        Setting::guide(
            "EXEC_REDIS_SECURE",
            "Redis is password protected (requirepass); EXEC_REDIS_PASSWORD is then mandatory",
        )
        .default_value("false"),
        Setting::guide("EXEC_REDIS_PASSWORD", "Redis password").secret(),
        Setting::ours(
            "EXEC_REDIS_TLS",
            "connect to Redis over TLS (the server's certificate and host name are verified)",
        )
        .default_value("false"),
        Setting::ours(
            "EXEC_REDIS_TLS_CA_FILE",
            "PEM file of the CA that signed Redis' certificate (with EXEC_REDIS_TLS)",
        )
        .default_value("the system's roots"),
        Setting::ours(
            "EXEC_REDIS_TLS_CERT_FILE",
            "PEM client certificate for mutual TLS (with EXEC_REDIS_TLS_KEY_FILE)",
        ),
        Setting::ours(
            "EXEC_REDIS_TLS_KEY_FILE",
            "PEM private key of EXEC_REDIS_TLS_CERT_FILE",
        ),
        Setting::ours(
            "EXEC_STORE_PATH",
            "embedded store file, used when EXEC_REDIS_HOST is unset (EXAS: one of the two is mandatory)",
        )
        .default_value("exec-store.redb"),
    ],
);

/// The table of what [`GcEnv::read_optional`] reads for prefix `$p`: a
/// `&'static [Setting]` of `$p_GC_BASE_URL`, `_REGION`, `_AUTH_URL`, `_CLIENT_ID`,
/// `_CLIENT_SECRET` (our additions).
#[macro_export]
macro_rules! gc_env_settings {
    ($p:literal) => {
        &[
            $crate::settings::Setting::ours(
                concat!($p, "_GC_BASE_URL"),
                concat!(
                    "GC API base URL, e.g. https://api.mypurecloud.ie; overrides the connection EXCS publishes from hybrid_integration; once any ",
                    $p,
                    "_GC_* is set, this or ",
                    $p,
                    "_GC_REGION is mandatory"
                ),
            ),
            $crate::settings::Setting::ours(
                concat!($p, "_GC_REGION"),
                "GC region host (e.g. mypurecloud.ie), instead of the base URL",
            ),
            $crate::settings::Setting::ours(
                concat!($p, "_GC_AUTH_URL"),
                "GC login base URL",
            )
            .default_value("derived from the API base (api. -> login.)"),
            $crate::settings::Setting::ours(
                concat!($p, "_GC_CLIENT_ID"),
                concat!("OAuth client id; mandatory once any ", $p, "_GC_* is set"),
            ),
            $crate::settings::Setting::ours(
                concat!($p, "_GC_CLIENT_SECRET"),
                concat!("OAuth client secret; mandatory once any ", $p, "_GC_* is set"),
            )
            .secret(),
        ]
    };
}

/// The settings every service shares (`EXEC_*`, tenant naming).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommonConfig {
    /// GC org id (`EXEC_ORG_ID`).
    pub org_id: String,
    /// Engage tenant id (`EXEC_TENANT_ID`).
    pub tenant_id: String,
    /// Tenant name for descriptions: `TENANT_NAME`, else `TENANT_ID`, else `default_tenant`.
    pub tenant_name: String,
    /// Accept `http://` GC URLs (`EXEC_GC_ALLOW_HTTP`, our addition, default `false`): only a
    /// test emulator speaks plain HTTP.
    pub gc_allow_http: bool,
}

impl CommonConfig {
    /// Reads the shared settings.
    pub fn read(env: &mut EnvReader<'_>) -> CommonConfig {
        let org_id = env.required("EXEC_ORG_ID", "EX org id, Admin > Organization Settings");
        let tenant_id = env.required("EXEC_TENANT_ID", "Engage tenant id, e.g. the tenant DBID");
        let tenant_name = env
            .optional("TENANT_NAME")
            .or_else(|| env.optional("TENANT_ID"))
            .unwrap_or_else(|| "default_tenant".to_string());
        let gc_allow_http = env.flag("EXEC_GC_ALLOW_HTTP", false);
        CommonConfig {
            org_id,
            tenant_id,
            tenant_name,
            gc_allow_http,
        }
    }
}

/// Reads the Redis settings for `host` (`EXEC_REDIS_PORT`, `_SECURE`, `_PASSWORD`, and our
/// `EXEC_REDIS_TLS*`); problems are recorded in `env`.
pub fn redis_config(env: &mut EnvReader<'_>, host: String) -> engage_store::RedisConfig {
    let mut c = engage_store::RedisConfig::new(host, env.parsed_or::<u16>("EXEC_REDIS_PORT", 6379));
    c.password = if env.flag("EXEC_REDIS_SECURE", false) {
        Some(env.required(
            "EXEC_REDIS_PASSWORD",
            "Redis password, required when EXEC_REDIS_SECURE is true",
        ))
    } else {
        env.optional("EXEC_REDIS_PASSWORD")
    };
    let ca_file = env.optional("EXEC_REDIS_TLS_CA_FILE").map(Into::into);
    let cert_file = env.optional("EXEC_REDIS_TLS_CERT_FILE").map(Into::into);
    let key_file = env.optional("EXEC_REDIS_TLS_KEY_FILE").map(Into::into);
    if env.flag("EXEC_REDIS_TLS", false) {
        if cert_file.is_some() != key_file.is_some() {
            env.invalid(
                "EXEC_REDIS_TLS_CERT_FILE",
                "EXEC_REDIS_TLS_CERT_FILE and EXEC_REDIS_TLS_KEY_FILE go together (mutual TLS)",
            );
        }
        c.tls = Some(engage_store::RedisTls {
            ca_file,
            cert_file,
            key_file,
        });
    }
    c
}

/// Reads the store settings (`EXEC_REDIS_*`, or `EXEC_STORE_PATH`, our addition); problems are
/// recorded in `env`.
pub fn store_settings(env: &mut EnvReader<'_>) -> engage_store::StoreSettings {
    match env.optional("EXEC_REDIS_HOST") {
        Some(host) => engage_store::StoreSettings::Redis(redis_config(env, host)),
        None => engage_store::StoreSettings::Embedded(
            env.optional("EXEC_STORE_PATH")
                .unwrap_or_else(|| "exec-store.redb".into())
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_missing_variables_are_named_in_one_line() {
        let env: BTreeMap<&str, &str> = BTreeMap::from([("EXEC_ORG_ID", " ")]);
        let mut r = EnvReader::new(&env);
        let _ = CommonConfig::read(&mut r);
        let _ = r.parsed_or::<u16>("EXCS_PORT", 3640);
        let err = r.finish().unwrap_err();
        let line = err.to_string();
        assert!(line.contains("missing EXEC_ORG_ID"), "{line}");
        assert!(line.contains("missing EXEC_TENANT_ID"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn invalid_values_are_reported() {
        let env: BTreeMap<&str, &str> =
            BTreeMap::from([("EXCS_PORT", "http"), ("X_FLAG", "maybe")]);
        let mut r = EnvReader::new(&env);
        assert_eq!(r.parsed_or::<u16>("EXCS_PORT", 3640), 3640);
        assert!(!r.flag("X_FLAG", false));
        let err = r.finish().unwrap_err();
        assert_eq!(err.problems.len(), 2);
        assert!(err.to_string().contains("invalid EXCS_PORT"));
    }

    #[test]
    fn tenant_name_falls_back() {
        let env: BTreeMap<&str, &str> =
            BTreeMap::from([("EXEC_ORG_ID", "o"), ("EXEC_TENANT_ID", "1")]);
        let mut r = EnvReader::new(&env);
        assert_eq!(CommonConfig::read(&mut r).tenant_name, "default_tenant");
        let env: BTreeMap<&str, &str> = BTreeMap::from([("TENANT_ID", "101")]);
        let mut r = EnvReader::new(&env);
        assert_eq!(CommonConfig::read(&mut r).tenant_name, "101");
        let env: BTreeMap<&str, &str> =
            BTreeMap::from([("TENANT_ID", "101"), ("TENANT_NAME", "Acme")]);
        let mut r = EnvReader::new(&env);
        assert_eq!(CommonConfig::read(&mut r).tenant_name, "Acme");
    }

    #[test]
    fn lists_are_trimmed() {
        let env: BTreeMap<&str, &str> = BTreeMap::from([("L", " a, b ,,c ")]);
        let r = EnvReader::new(&env);
        assert_eq!(r.list("L"), vec!["a", "b", "c"]);
    }
}

/// A service's Genesys Cloud connection from `{PREFIX}_GC_*` variables (our addition for EXAS
/// and EXCP, which have no Config DB access in the guide): `{PREFIX}_GC_BASE_URL` or
/// `{PREFIX}_GC_REGION`, optional `{PREFIX}_GC_AUTH_URL`, `{PREFIX}_GC_CLIENT_ID`,
/// `{PREFIX}_GC_CLIENT_SECRET`. `Debug` never shows the secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GcEnv {
    /// GC API base URL.
    pub base_url: String,
    /// GC login base URL.
    pub auth_url: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: gcex::Secret,
}

/// The login base for an API base: `https://api.X` → `https://login.X`; any other host (an
/// emulator, a proxy) serves both.
pub fn derive_auth_url(base: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) if rest.starts_with("api.") => {
            format!("{scheme}://login.{}", &rest["api.".len()..])
        }
        _ => base.to_string(),
    }
}

impl GcEnv {
    /// Reads the `{prefix}_GC_*` variables when any of them is set (`None` when none is: the
    /// service then takes the connection EXCS publishes from `hybrid_integration`); once one is
    /// set, the others are required as in [`GcEnv::read`].
    pub fn read_optional(env: &mut EnvReader<'_>, prefix: &str) -> Option<GcEnv> {
        let any = [
            "BASE_URL",
            "REGION",
            "AUTH_URL",
            "CLIENT_ID",
            "CLIENT_SECRET",
        ]
        .iter()
        .any(|n| env.optional(&format!("{prefix}_GC_{n}")).is_some());
        any.then(|| GcEnv::read(env, prefix))
    }

    /// The GC client configuration for org `org_id`.
    pub fn gc_config(&self, org_id: &str) -> gcex::GcConfig {
        gcex::GcConfig::new(
            self.base_url.clone(),
            self.auth_url.clone(),
            org_id.to_string(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
    }

    /// Reads the `{prefix}_GC_*` variables; problems are recorded in `env`.
    pub fn read(env: &mut EnvReader<'_>, prefix: &str) -> GcEnv {
        let v = |n: &str| format!("{prefix}_GC_{n}");
        let (base_url, derived_auth) =
            match (env.optional(&v("BASE_URL")), env.optional(&v("REGION"))) {
                (Some(base), _) => {
                    let base = base.trim_end_matches('/').to_string();
                    let auth = derive_auth_url(&base);
                    (base, Some(auth))
                }
                (None, Some(region)) => match gcex::region_urls(&region) {
                    Ok((api, login)) => (api, Some(login)),
                    Err(e) => {
                        env.invalid(&v("REGION"), &e.to_string());
                        (String::new(), None)
                    }
                },
                (None, None) => {
                    env.required(
                        &v("BASE_URL"),
                        &format!(
                            "Genesys Cloud API base URL such as https://api.mypurecloud.ie, or {}",
                            v("REGION")
                        ),
                    );
                    (String::new(), None)
                }
            };
        let auth_url = env
            .optional(&v("AUTH_URL"))
            .or(derived_auth)
            .unwrap_or_default();
        let client_id = env.required(&v("CLIENT_ID"), "Genesys Cloud OAuth client id");
        let client_secret = gcex::Secret::new(
            env.required(&v("CLIENT_SECRET"), "Genesys Cloud OAuth client secret"),
        );
        GcEnv {
            base_url,
            auth_url,
            client_id,
            client_secret,
        }
    }
}
