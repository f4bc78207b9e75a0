//! The settings table of a service: every environment variable it reads, with its default,
//! whether it is mandatory, what it is for, whether it comes from the deployment guide or is
//! our addition, and whether it is a secret.
//!
//! One table per service (`SETTINGS` in its config module) drives three things, so they
//! cannot disagree: `--help` ([`ServiceSettings::help`]), `--check-config`
//! ([`ServiceSettings::effective`], which never prints a secret's value) and the drift test
//! ([`drift`]), which reads the service's settings through a [`Recording`] lookup and fails when
//! the reader asks for a variable the table does not list, or the table lists one the reader
//! never asks for.
//!
//! ```
//! use engage_ops::settings::{Setting, SettingGroup, ServiceSettings};
//! static SETTINGS: ServiceSettings = ServiceSettings::new(
//!     "demo",
//!     "a demo service",
//!     &[SettingGroup::new(
//!         "Demo",
//!         &[
//!             Setting::guide("DEMO_PORT", "REST port").default_value("8080"),
//!             Setting::ours("DEMO_TOKEN", "API token").secret(),
//!         ],
//!     )],
//! );
//! let help = SETTINGS.help();
//! assert!(help.contains("DEMO_PORT"));
//! assert!(help.contains("[ours]"));
//! ```

use crate::config::Lookup;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Mutex;

/// Where a setting is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The deployment guide names it.
    Guide,
    /// Our addition (not in the deployment guide).
    Ours,
}

/// One environment variable a service reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable's name, as the guide spells it where the guide names it.
    pub name: &'static str,
    /// Other names read for the same setting (e.g. the bootstrap's `EXCP_1_…` spelling), in
    /// the order they are tried after `name`.
    pub aliases: &'static [&'static str],
    /// The default value as an operator would write it; empty when there is none.
    pub default: &'static str,
    /// Whether start-up fails without it.
    pub mandatory: bool,
    /// What it is for (and, for conditionally mandatory settings, when it is needed).
    pub description: &'static str,
    /// Guide or ours.
    pub origin: Origin,
    /// Whether its value must never be printed or logged.
    pub secret: bool,
}

impl Setting {
    /// A setting the deployment guide names; optional, no default, not secret.
    pub const fn guide(name: &'static str, description: &'static str) -> Setting {
        Setting {
            name,
            aliases: &[],
            default: "",
            mandatory: false,
            description,
            origin: Origin::Guide,
            secret: false,
        }
    }

    /// A setting of ours (not in the guide); optional, no default, not secret.
    pub const fn ours(name: &'static str, description: &'static str) -> Setting {
        Setting {
            origin: Origin::Ours,
            ..Setting::guide(name, description)
        }
    }

    /// With a default value.
    pub const fn default_value(self, default: &'static str) -> Setting {
        Setting { default, ..self }
    }

    /// Mandatory.
    pub const fn mandatory(self) -> Setting {
        Setting {
            mandatory: true,
            ..self
        }
    }

    /// A secret: its value is never printed.
    pub const fn secret(self) -> Setting {
        Setting {
            secret: true,
            ..self
        }
    }

    /// With other accepted names.
    pub const fn aliases(self, aliases: &'static [&'static str]) -> Setting {
        Setting { aliases, ..self }
    }

    /// Every name this setting answers to, `name` first.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// Whether the value must be hidden: flagged secret, or a secret-looking name (a safety
    /// net for a table that forgot the flag).
    pub fn is_secret(&self) -> bool {
        self.secret || looks_secret(self.name)
    }
}

/// Whether a variable or key name looks like it holds a secret (`password`, `secret`,
/// `token`, `credential`, `private key`, case-insensitive).
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "private_key",
        "privatekey",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// What [`looks_secret`] values are shown as.
pub const REDACTED: &str = "<redacted>";

/// A titled group of settings (a service's own, the shared store, logging, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingGroup {
    /// Heading in `--help`.
    pub title: &'static str,
    /// The settings.
    pub settings: &'static [Setting],
}

impl SettingGroup {
    /// A group.
    pub const fn new(title: &'static str, settings: &'static [Setting]) -> SettingGroup {
        SettingGroup { title, settings }
    }
}

/// Every setting of one binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSettings {
    /// The binary's name (`excs`, …).
    pub binary: &'static str,
    /// One line saying what it is.
    pub summary: &'static str,
    /// The groups, in `--help` order.
    pub groups: &'static [SettingGroup],
}

/// The value of one setting as the service would use it, for `--check-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveSetting {
    /// The table's entry.
    pub setting: Setting,
    /// The name the value was found under (`None`: not set).
    pub set_as: Option<&'static str>,
    /// The value as printed: the variable's, `<redacted>` for a secret, the default, or
    /// `(unset)`.
    pub shown: String,
}

impl ServiceSettings {
    /// A binary's table.
    pub const fn new(
        binary: &'static str,
        summary: &'static str,
        groups: &'static [SettingGroup],
    ) -> ServiceSettings {
        ServiceSettings {
            binary,
            summary,
            groups,
        }
    }

    /// Every setting, group by group.
    pub fn all(&self) -> impl Iterator<Item = &'static Setting> + '_ {
        self.groups.iter().flat_map(|g| g.settings.iter())
    }

    /// The setting answering to `name` (its name or an alias).
    pub fn find(&self, name: &str) -> Option<&'static Setting> {
        self.all().find(|s| s.names().any(|n| n == name))
    }

    /// The `--help` text: usage, then every setting by group.
    pub fn help(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {}: {}\n",
            self.binary,
            crate::cli::VERSION,
            self.summary
        );
        let _ = writeln!(
            out,
            "Usage: {} [--help | --version | --check-config]\n",
            self.binary
        );
        let _ = writeln!(
            out,
            "  (no argument)   start, with the settings below read from the environment"
        );
        let _ = writeln!(
            out,
            "  --check-config  validate the environment and print the effective configuration\n                  (secrets redacted); exit 0 when valid, 2 with the error otherwise"
        );
        let _ = writeln!(out, "  --help, -h      this text");
        let _ = writeln!(out, "  --version, -V   version and git revision\n");
        out.push_str(&self.settings_help());
        out
    }

    /// The settings part of `--help` (clap binaries append it to theirs).
    pub fn settings_help(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Settings (environment variables). `*` mandatory; [ours] our addition, not in the\ndeployment guide; [secret] never printed. An empty value counts as unset."
        );
        for g in self.groups {
            let _ = writeln!(out, "\n{}:", g.title);
            for s in g.settings {
                let mut head = format!("  {}", s.name);
                if s.mandatory {
                    head.push_str(" *");
                }
                if s.origin == Origin::Ours {
                    head.push_str(" [ours]");
                }
                if s.is_secret() {
                    head.push_str(" [secret]");
                }
                let _ = writeln!(out, "{head}");
                let mut line = format!("      {}", s.description);
                if !s.default.is_empty() {
                    let _ = write!(line, " (default: {})", s.default);
                }
                let _ = writeln!(out, "{line}");
                if !s.aliases.is_empty() {
                    let _ = writeln!(out, "      also read as: {}", s.aliases.join(", "));
                }
            }
        }
        out
    }

    /// Every setting's value from `lookup` as the service would see it; secrets redacted.
    pub fn effective(&self, lookup: &dyn Lookup) -> Vec<EffectiveSetting> {
        self.all()
            .map(|s| {
                let found = s.names().find_map(|n| lookup.get(n).map(|v| (n, v)));
                let (set_as, shown) = match found {
                    Some((n, _)) if s.is_secret() => (Some(n), REDACTED.to_string()),
                    Some((n, v)) => (Some(n), v.trim().to_string()),
                    None if !s.default.is_empty() => (None, format!("{} (default)", s.default)),
                    None => (None, "(unset)".to_string()),
                };
                EffectiveSetting {
                    setting: *s,
                    set_as,
                    shown,
                }
            })
            .collect()
    }

    /// The `--check-config` listing: one line per setting, by group, secrets redacted.
    pub fn effective_text(&self, lookup: &dyn Lookup) -> String {
        let values = self.effective(lookup);
        let width = self.all().map(|s| s.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        let mut i = 0;
        for (n, g) in self.groups.iter().enumerate() {
            let gap = if n == 0 { "" } else { "\n" };
            let _ = writeln!(out, "{gap}{}:", g.title);
            for _ in g.settings {
                if let Some(v) = values.get(i) {
                    let alias = match v.set_as {
                        Some(n) if n != v.setting.name => format!("  (as {n})"),
                        _ => String::new(),
                    };
                    let _ = writeln!(
                        out,
                        "  {:width$} = {}{alias}",
                        v.setting.name,
                        v.shown,
                        width = width
                    );
                }
                i += 1;
            }
        }
        out
    }

    /// Variables in `names` (the process's) that start with one of `prefixes` but that this
    /// binary does not read: most often a typo.
    pub fn unknown<'n>(
        &self,
        names: impl IntoIterator<Item = &'n str>,
        prefixes: &[&str],
    ) -> Vec<String> {
        names
            .into_iter()
            .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
            .filter(|n| self.find(n).is_none())
            .map(str::to_string)
            .collect()
    }
}

/// A [`Lookup`] that remembers every name asked for (the drift test reads a service's
/// settings through it and compares the names with the table).
pub struct Recording<'a> {
    inner: &'a dyn Lookup,
    names: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Recording<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("names", &self.names())
            .finish()
    }
}

impl<'a> Recording<'a> {
    /// Records the look-ups made on `inner`.
    pub fn new(inner: &'a dyn Lookup) -> Recording<'a> {
        Recording {
            inner,
            names: Mutex::new(BTreeSet::new()),
        }
    }

    /// Every name asked for so far.
    pub fn names(&self) -> BTreeSet<String> {
        self.names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Lookup for Recording<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_string());
        self.inner.get(name)
    }
}

/// How a reader and its table disagree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Names the reader asked for that the table does not list (help would hide them).
    pub unlisted: BTreeSet<String>,
    /// Names the table lists that the reader never asked for in any of the environments
    /// (help would promise a setting that does nothing).
    pub unread: BTreeSet<String>,
}

impl Drift {
    /// Whether table and reader agree.
    pub fn is_empty(&self) -> bool {
        self.unlisted.is_empty() && self.unread.is_empty()
    }
}

/// Reads the settings with `read` once per environment in `envs` through a [`Recording`]
/// lookup and compares the names asked for with `table`. Pass environments that reach every
/// branch of the reader (empty; everything set; the alternatives).
pub fn drift<T, E>(
    table: &ServiceSettings,
    envs: &[BTreeMap<String, String>],
    read: impl Fn(&dyn Lookup) -> Result<T, E>,
) -> Drift {
    let mut asked = BTreeSet::new();
    for env in envs {
        let rec = Recording::new(env);
        let _ = read(&rec);
        asked.extend(rec.names());
    }
    let unlisted = asked
        .iter()
        .filter(|n| table.find(n).is_none())
        .cloned()
        .collect();
    let unread = table
        .all()
        .flat_map(|s| s.names())
        .filter(|n| !asked.contains(*n))
        .map(str::to_string)
        .collect();
    Drift { unlisted, unread }
}

/// An environment that sets every variable of `table` (names and aliases alike) to a value
/// from `values` or, when absent there, to its default or `"x"`; for [`drift`] tests.
pub fn env_with_all(table: &ServiceSettings, values: &[(&str, &str)]) -> BTreeMap<String, String> {
    let given: BTreeMap<&str, &str> = values.iter().copied().collect();
    let mut env = BTreeMap::new();
    for s in table.all() {
        for n in s.names() {
            let v =
                given
                    .get(n)
                    .copied()
                    .unwrap_or(if s.default.is_empty() { "x" } else { s.default });
            env.insert(n.to_string(), v.to_string());
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    static T: ServiceSettings = ServiceSettings::new(
        "t",
        "test",
        &[SettingGroup::new(
            "T",
            &[
                Setting::guide("T_PORT", "port").default_value("1"),
                Setting::guide("T_HOST", "host")
                    .mandatory()
                    .aliases(&["T_1_HOST"]),
                Setting::ours("T_DB_PASSWORD", "password"),
                Setting::ours("T_KEY", "a key").secret(),
            ],
        )],
    );

    #[test]
    fn effective_values_redact_secrets_and_show_defaults_and_aliases() {
        let env: BTreeMap<&str, &str> = BTreeMap::from([
            ("T_1_HOST", "h"),
            ("T_DB_PASSWORD", "hunter2"),
            ("T_KEY", "k3y-value"),
        ]);
        let text = T.effective_text(&env);
        assert!(
            text.contains("T_PORT") && text.contains("1 (default)"),
            "{text}"
        );
        assert!(text.contains("= h  (as T_1_HOST)"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("k3y-value"),
            "{text}"
        );
        assert_eq!(text.matches(REDACTED).count(), 2, "{text}");
        let help = T.help();
        assert!(help.contains("T_HOST *"), "{help}");
        assert!(help.contains("T_DB_PASSWORD [ours] [secret]"), "{help}");
        assert!(help.contains("also read as: T_1_HOST"), "{help}");
    }

    #[test]
    fn drift_finds_unlisted_and_unread_names() {
        let read = |l: &dyn Lookup| -> Result<(), ()> {
            let _ = l.get("T_PORT");
            let _ = l.get("T_HOST").or_else(|| l.get("T_1_HOST"));
            let _ = l.get("T_OTHER");
            Ok(())
        };
        let d = drift(&T, &[BTreeMap::new()], read);
        assert_eq!(d.unlisted, BTreeSet::from(["T_OTHER".to_string()]));
        assert_eq!(
            d.unread,
            BTreeSet::from(["T_DB_PASSWORD".to_string(), "T_KEY".to_string()])
        );
        assert!(!d.is_empty());
        let unknown = T.unknown(["T_PORTT", "T_PORT", "OTHER"], &["T_"]);
        assert_eq!(unknown, vec!["T_PORTT".to_string()]);
    }
}
