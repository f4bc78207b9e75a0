//! The replay mix shared by the `replay` bench and the `replay_profile` example: every
//! supported and unsupported scenario file, many calls interleaved in time.

use std::collections::BTreeSet;

use engage_callmodel::{EngageEvent, Lookups, ModelConfig, StaticLookups};

/// Look-ups as the EXCP engine would hold them: hash maps in memory.
pub struct HashLookups {
    queues: std::collections::HashMap<String, String>,
    agents: std::collections::HashMap<String, String>,
    wrap_up_codes: std::collections::HashMap<String, String>,
}

impl HashLookups {
    pub fn new(l: StaticLookups) -> Self {
        Self {
            queues: l.queues.into_iter().collect(),
            agents: l.agents.into_iter().collect(),
            wrap_up_codes: l.wrap_up_codes.into_iter().collect(),
        }
    }
}

impl Lookups for HashLookups {
    fn queue_id(&self, vq_dn: &str) -> Option<&str> {
        self.queues.get(vq_dn).map(String::as_str)
    }
    fn agent_user_id(&self, extension_dn: &str) -> Option<&str> {
        self.agents.get(extension_dn).map(String::as_str)
    }
    fn wrap_up_code_id(&self, disposition: &str) -> Option<&str> {
        self.wrap_up_codes.get(disposition).map(String::as_str)
    }
}

pub const CALLS: usize = 2_000;

pub fn load() -> (StaticLookups, ModelConfig, Vec<EngageEvent>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("scenario dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // The supported flows and the suspension cases (robustness files drive timeouts).
            (n.starts_with(|c: char| c.is_ascii_digit()) || n.starts_with('u'))
                && n.ends_with(".yaml")
        })
        .collect();
    files.sort();
    let mut lookups = StaticLookups::default();
    let mut flows: Vec<Vec<String>> = Vec::new();
    let mut config = ModelConfig::default();
    for f in &files {
        let v: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(f).expect("readable")).expect("yaml");
        let l: StaticLookups = serde_yaml::from_value(v["lookups"].clone()).unwrap_or_default();
        lookups.queues.extend(l.queues);
        lookups.agents.extend(l.agents);
        lookups.wrap_up_codes.extend(l.wrap_up_codes);
        if let Ok(c) = serde_yaml::from_value::<ModelConfig>(v["config"].clone())
            && c.after_call_work_required
        {
            config = c;
        }
        let events: Vec<String> = v["steps"]
            .as_sequence()
            .map(|s| {
                s.iter()
                    .filter(|st| st.get("event").is_some())
                    .map(|st| serde_json::to_string(st).expect("json"))
                    .collect()
            })
            .unwrap_or_default();
        flows.push(events);
    }
    let agents = lookups.agents.clone();
    // Every call instance gets its own CallUUIDs, ISLinks and a start offset.
    let mut all: Vec<(u64, usize, EngageEvent)> = Vec::new();
    for i in 0..CALLS {
        let flow = &flows[i % flows.len()];
        let offset = (i as u64) * 50;
        let mut ids = BTreeSet::new();
        for e in flow {
            let ev: EngageEvent = serde_json::from_str(e).expect("event");
            if let Some(c) = ev.call_uuid() {
                ids.insert(c.to_owned());
            }
            if let Some(r) = ev.call_ref() {
                ids.extend(r.is_link_list.iter().cloned());
            }
        }
        // Each call instance has its own agents (an agent handles one call at a time).
        for (dn, user) in &agents {
            lookups
                .agents
                .insert(format!("{dn}-{i}"), format!("{user}-{i}"));
        }
        for (n, e) in flow.iter().enumerate() {
            let mut text = e.clone();
            for id in &ids {
                text = text.replace(id.as_str(), &format!("{}{i:06}", &id[..id.len().min(20)]));
            }
            for dn in agents.keys() {
                text = text.replace(&format!("\"{dn}\""), &format!("\"{dn}-{i}\""));
            }
            let ev: EngageEvent = serde_json::from_str(&text).expect("event");
            let t = ev.time() + offset;
            let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
            v["time"] = t.into();
            all.push((t, n, serde_json::from_value(v).expect("event")));
        }
    }
    all.sort_by_key(|(t, n, _)| (*t, *n));
    (
        lookups,
        config,
        all.into_iter().map(|(_, _, e)| e).collect(),
    )
}
