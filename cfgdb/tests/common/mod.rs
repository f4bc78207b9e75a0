//! Shared assertions over a Config DB seeded with `SeedSpec::agents(AGENTS)` (defaults
//! otherwise), run against every tested dialect.

use std::collections::BTreeSet;

use engage_cfgdb::FolderFilter;
use engage_cfgdb::model::{DnType, ObjectKey, ObjectKind, ObjectState, Snapshot};
use engage_cfgdb::vag::{effective_members, evaluate_all, evaluate_group, wfm_queue_members};

/// Agents in the seeded fixture.
pub const AGENTS: usize = 40;

fn person_index(dbid: i64) -> usize {
    (dbid - 101) as usize
}

/// Checks counts, relations, annex, VAG evaluation, folders and filtering.
pub fn check_seeded(s: &Snapshot) {
    // Tenant, switches.
    assert_eq!(s.tenants.len(), 1);
    assert_eq!(s.tenants[&1].name, "tenant001");
    assert_eq!(s.switches.len(), 3);

    // Persons: agents + one non-agent; supervisors every 10th.
    assert_eq!(s.persons.len(), AGENTS + 1);
    let agents: Vec<_> = s.persons.values().filter(|p| p.is_agent).collect();
    assert_eq!(agents.len(), AGENTS);
    assert_eq!(
        s.persons.values().filter(|p| p.is_supervisor()).count(),
        AGENTS.div_ceil(10)
    );
    assert!(s.persons[&101].is_supervisor());
    assert!(!s.persons[&102].is_supervisor());
    for p in &agents {
        assert_eq!(p.state, ObjectState::Enabled);
        assert!(!p.skills.is_empty(), "agent {} has skills", p.dbid);
        assert!(
            p.skills
                .iter()
                .all(|l| s.skills.contains_key(&l.skill_dbid) && (1..=10).contains(&l.level))
        );
        assert_eq!(p.agent_logins, vec![p.dbid]);
        let login = &s.agent_logins[&p.dbid];
        assert_eq!(login.person_dbid, Some(p.dbid));
        assert!(s.switches.contains_key(&login.switch_dbid));
    }
    // The e-mail field variety the user mapping relies on.
    assert!(s.persons[&101].user_name.as_deref().unwrap().contains('@'));
    let p7 = &s.persons[&107]; // i = 6: e-mail in employee id only
    assert!(!p7.user_name.as_deref().unwrap().contains('@'));
    assert!(p7.employee_id.as_deref().unwrap().contains('@'));
    assert_eq!(p7.email, None);
    let p6 = &s.persons[&106]; // i = 5: e-mail column only
    assert!(p6.email.as_deref().unwrap().contains('@'));

    // Skills, agent logins, DNs; the same DBID in several types stays separate.
    assert_eq!(s.skills.len(), 8);
    assert_eq!(s.skills[&101].name, "Sales");
    assert_eq!(s.agent_logins.len(), AGENTS);
    assert_eq!(s.dns.len(), AGENTS + 3 * 6);
    assert_eq!(s.dns[&101].dn_type, DnType::Extension);
    assert_eq!(s.dns[&101].number, "1000");
    let vqs: Vec<_> = s.virtual_queues().collect();
    assert_eq!(vqs.len(), 12);
    for vq in &vqs {
        assert_eq!(vq.tenant_dbid, Some(1), "DN tenant comes from its switch");
        // The second VQ of each line of business has no history.
        assert_eq!(
            vq.last_modified.is_none(),
            vq.number.ends_with("_2"),
            "{}",
            vq.number
        );
    }
    assert!(s.dns.values().any(|d| d.dn_type == DnType::RoutingPoint));
    assert!(s.dns.values().any(|d| d.dn_type == DnType::AcdQueue));
    assert!(s.persons[&101].last_modified.is_some());
    assert!(s.history_cursor.is_some());

    // Agent groups: 4 VAGs + 2 plain + 1 LoggedIn VAG; the place group is not read.
    assert_eq!(s.agent_groups.len(), 7);
    assert!(!s.agent_groups.values().any(|g| g.name == "PG_Floor1"));
    let vq_numbers: BTreeSet<&str> = vqs.iter().map(|d| d.number.as_str()).collect();
    let mut evaluated = 0;
    for g in s.agent_groups.values() {
        for n in g.wfm_queue_numbers() {
            assert!(vq_numbers.contains(n), "group {} links to VQ {n}", g.name);
        }
        match evaluate_group(s, g) {
            None => assert!(g.name.starts_with("AG_")),
            Some(Err(e)) => panic!("script of {} does not parse: {e}", g.name),
            Some(Ok(m)) if g.name == "VAG_LoggedIn_Sales" => {
                assert_eq!(
                    m.not_evaluable_terms,
                    vec!["VQ_Sales_1@SIP_Switch_1".to_string()]
                );
                assert!(m.members.is_empty());
                assert!(!m.undetermined.is_empty());
            }
            Some(Ok(m)) => {
                assert!(m.not_evaluable_terms.is_empty());
                assert!(m.undetermined.is_empty());
                assert_eq!(
                    m.members, g.members,
                    "evaluated members of {} match the stored ones",
                    g.name
                );
                assert_eq!(g.wfm_queue_numbers().len(), 1);
                evaluated += 1;
            }
        }
    }
    assert_eq!(evaluated, 4);
    assert_eq!(evaluate_all(s).len(), 5);
    for g in s
        .agent_groups
        .values()
        .filter(|g| g.name != "VAG_LoggedIn_Sales")
    {
        assert_eq!(effective_members(s, g), g.members, "{}", g.name);
    }
    assert!(
        s.agent_groups
            .values()
            .any(|g| g.virtual_script().is_some() && !g.members.is_empty())
    );
    let ag_sales = s
        .agent_groups
        .values()
        .find(|g| g.name == "AG_Sales")
        .unwrap();
    assert_eq!(ag_sales.members.len(), AGENTS / 2);

    // Queue membership through hybrid/WFM_queue_number.
    let qm = wfm_queue_members(s);
    let group = |name: &str| s.agent_groups.values().find(|g| g.name == name).unwrap();
    for vq in &vqs {
        let mut want: BTreeSet<i64> = group(&format!("VAG_{}", vq.number))
            .members
            .iter()
            .copied()
            .collect();
        if vq.number.ends_with("_1") {
            let lob = if vq.number.contains("Sales") {
                "AG_Sales"
            } else {
                "AG_Support"
            };
            want.extend(group(lob).members.iter().copied());
        }
        assert_eq!(
            qm.get(&vq.dbid).cloned().unwrap_or_default(),
            want,
            "members of {}",
            vq.number
        );
    }
    assert!(qm.values().any(|m| !m.is_empty()));

    // Business attributes.
    assert_eq!(s.business_attributes.len(), 6);
    let disp: Vec<_> = s
        .disposition_attributes()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(
        disp,
        vec![
            "DispositionCode",
            "Tech Support Disposition Codes",
            "Billing Disputes Disposition Codes"
        ]
    );
    let codes: BTreeSet<&str> = s
        .disposition_attributes()
        .flat_map(|b| b.values.iter().map(|v| v.name.as_str()))
        .collect();
    assert_eq!(codes.len(), 8);
    assert!(codes.contains("Resolved"));
    assert!(s.business_attributes[&101].values[0].is_default);

    // hybrid_integration.
    let h = &s.hybrid_integration[&1];
    assert_eq!(h.config_sync.get("skill_level_max_value"), Some("10"));
    assert_eq!(h.config_sync.get("client_secret"), Some("excs-secret"));
    assert!(h.general.get("organization_id").is_some());
    assert_eq!(
        h.conversation_provider.get("sta_default_language"),
        Some("en-US")
    );
    assert_eq!(
        h.recording_uploader
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec!["exec.genesysCloud", "exec.transientStorage"]
    );
    let dbg = format!("{s:?}");
    assert!(
        !dbg.contains("excs-secret") && !dbg.contains("webdav-secret"),
        "secrets leak into Debug"
    );

    // Folders.
    let folder_of =
        |k: ObjectKind, d: i64| s.folder_of(ObjectKey::new(k, d)).map(|f| f.name.clone());
    assert_eq!(folder_of(ObjectKind::Person, 101).as_deref(), Some("Sales"));
    assert_eq!(folder_of(ObjectKind::Person, 106).as_deref(), Some("Tier2"));
    assert_eq!(folder_of(ObjectKind::Skill, 101).as_deref(), Some("Sales"));
    assert_eq!(folder_of(ObjectKind::Dn, 101).as_deref(), Some("Sales"));
    let tier2 = s.folders.values().find(|f| f.name == "Tier2").unwrap();
    let support = &s.folders[&tier2.parent_folder().unwrap()];
    assert_eq!(support.name, "Support");

    // Folder filtering.
    let f = FolderFilter::from_settings(Some("true"), Some("Sales")).unwrap();
    let out = f.apply(s);
    assert_eq!(out.persons.len(), AGENTS / 2);
    assert!(
        out.persons
            .keys()
            .all(|d| person_index(*d).is_multiple_of(2))
    );
    assert_eq!(
        out.skills.keys().copied().collect::<Vec<_>>(),
        vec![101, 103, 105, 107]
    );
    assert_eq!(out.dns.len(), AGENTS / 2 + 3 * 2);
    assert_eq!(out.agent_groups.len(), 3);
    assert_eq!(out.business_attributes.len(), 6, "never filtered");
    let f = FolderFilter::from_settings(Some("true"), Some("Tier2")).unwrap();
    let tier2: Vec<i64> = f.apply(s).persons.keys().copied().collect();
    let want: Vec<i64> = (0..AGENTS)
        .filter(|i| i % 2 == 1 && (i / 2) % 3 == 2)
        .map(|i| 101 + i as i64)
        .collect();
    assert_eq!(tier2, want);
    let f = FolderFilter::from_settings(Some("true"), Some("Support")).unwrap();
    assert_eq!(f.apply(s).persons.len(), AGENTS / 2, "subfolders included");
    let f = FolderFilter::from_settings(Some("true"), Some("Persons, Skills")).unwrap();
    let out = f.apply(s);
    assert_eq!(out.persons.len(), AGENTS + 1);
    assert_eq!(out.skills.len(), 8);
    assert!(out.dns.is_empty());
}
