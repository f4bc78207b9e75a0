//! Virtual Agent Group expressions (`virtual/script` in an agent group's annex): a pure parser
//! and a three-valued evaluator.
//!
//! Grammar (function names are case-insensitive; strings use `"` or `'`):
//!
//! ```text
//! expr    := and ('|' and)*
//! and     := unary ('&' unary)*
//! unary   := '~' unary | primary
//! primary := '(' expr ')'
//!          | Skill("Name") op INT          op: = == != <> >= <= > <
//!          | SkillExists("Name")
//!          | LoggedIn("Queue@Switch") | LoggedIn("Switch")
//! ```
//!
//! `LoggedIn` depends on live state, so it evaluates to [`Truth::Unknown`] (Kleene logic):
//! `Unknown & False` is `False`, `Unknown | True` is `True`, otherwise the result stays unknown
//! and is reported as not evaluable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{AgentGroup, Dbid, ObjectState, Snapshot};

/// Nesting limit: deeper input is rejected instead of overflowing the stack.
pub const MAX_DEPTH: usize = 64;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmpOp {
    /// `=` / `==`.
    Eq,
    /// `!=` / `<>`.
    Ne,
    /// `>=`.
    Ge,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `<`.
    Lt,
}

impl CmpOp {
    fn apply(self, a: i64, b: i64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Ge => a >= b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Lt => a < b,
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expr {
    /// `Skill("name") op level`.
    Skill {
        /// Skill name.
        name: String,
        /// Operator.
        op: CmpOp,
        /// Level compared against.
        level: i64,
    },
    /// `SkillExists("name")`.
    SkillExists(String),
    /// `LoggedIn("...")` (not evaluable from configuration).
    LoggedIn(String),
    /// `~e`.
    Not(Box<Expr>),
    /// `a & b`.
    And(Box<Expr>, Box<Expr>),
    /// `a | b`.
    Or(Box<Expr>, Box<Expr>),
}

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Definitely true.
    True,
    /// Definitely false.
    False,
    /// Depends on live state (a `LoggedIn` term).
    Unknown,
}

impl Truth {
    fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
    fn and(self, o: Truth) -> Truth {
        match (self, o) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }
    fn or(self, o: Truth) -> Truth {
        match (self, o) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }
}

/// A script that does not parse; `position` is a byte offset into the script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "virtual agent group script: {message} at byte {position}; fix the group's annex virtual/script"
)]
#[non_exhaustive]
pub struct ParseError {
    /// Byte offset.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl Expr {
    /// Parses a script.
    pub fn parse(input: &str) -> Result<Expr, ParseError> {
        let mut p = Parser {
            s: input.as_bytes(),
            pos: 0,
            depth: 0,
        };
        let e = p.or()?;
        p.ws();
        if p.pos < p.s.len() {
            return Err(p.err("unexpected trailing input"));
        }
        Ok(e)
    }

    /// Evaluates against a person's skills: `level_of(name)` gives the person's level in a
    /// skill, `None` when the person does not have it (then every `Skill(..)` comparison is
    /// false and `SkillExists` is false).
    pub fn evaluate(&self, level_of: &dyn Fn(&str) -> Option<i64>) -> Truth {
        match self {
            Expr::Skill { name, op, level } => {
                Truth::from_bool(level_of(name).is_some_and(|l| op.apply(l, *level)))
            }
            Expr::SkillExists(name) => Truth::from_bool(level_of(name).is_some()),
            Expr::LoggedIn(_) => Truth::Unknown,
            Expr::Not(e) => e.evaluate(level_of).not(),
            Expr::And(a, b) => a.evaluate(level_of).and(b.evaluate(level_of)),
            Expr::Or(a, b) => a.evaluate(level_of).or(b.evaluate(level_of)),
        }
    }

    /// The `LoggedIn` terms (what is not evaluable from configuration).
    pub fn logged_in_terms(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_logged_in(&mut out);
        out
    }

    fn collect_logged_in(&self, out: &mut Vec<String>) {
        match self {
            Expr::LoggedIn(t) => out.push(t.clone()),
            Expr::Not(e) => e.collect_logged_in(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_logged_in(out);
                b.collect_logged_in(out);
            }
            Expr::Skill { .. } | Expr::SkillExists(_) => {}
        }
    }

    /// Skill names the expression refers to.
    pub fn skill_names(&self) -> Vec<&str> {
        match self {
            Expr::Skill { name, .. } | Expr::SkillExists(name) => vec![name.as_str()],
            Expr::LoggedIn(_) => vec![],
            Expr::Not(e) => e.skill_names(),
            Expr::And(a, b) | Expr::Or(a, b) => {
                let mut v = a.skill_names();
                v.extend(b.skill_names());
                v
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Skill { name, op, level } => {
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "!=",
                    CmpOp::Ge => ">=",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Lt => "<",
                };
                write!(f, "Skill(\"{name}\") {op} {level}")
            }
            Expr::SkillExists(n) => write!(f, "SkillExists(\"{n}\")"),
            Expr::LoggedIn(n) => write!(f, "LoggedIn(\"{n}\")"),
            Expr::Not(e) => write!(f, "~({e})"),
            Expr::And(a, b) => write!(f, "({a} & {b})"),
            Expr::Or(a, b) => write!(f, "({a} | {b})"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, m: &str) -> ParseError {
        ParseError {
            position: self.pos,
            message: m.to_string(),
        }
    }
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", c as char)))
        }
    }
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("expression nested too deeply"));
        }
        Ok(())
    }
    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut e = self.and()?;
        while self.eat(b'|') {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        while self.eat(b'&') {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat(b'~') {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.eat(b'(') {
            let e = self.or()?;
            self.expect(b')')?;
            return Ok(e);
        }
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_alphabetic() {
            self.pos += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.pos])
            .unwrap_or("")
            .to_ascii_lowercase();
        match word.as_str() {
            "skill" => {
                let name = self.call_arg()?;
                let op = self.op()?;
                let level = self.int()?;
                Ok(Expr::Skill { name, op, level })
            }
            "skillexists" => Ok(Expr::SkillExists(self.call_arg()?)),
            "loggedin" => Ok(Expr::LoggedIn(self.call_arg()?)),
            "" => {
                self.pos = start;
                Err(self.err("expected Skill, SkillExists, LoggedIn, `~` or `(`"))
            }
            _ => {
                self.pos = start;
                Err(self.err(&format!("unknown function `{word}`")))
            }
        }
    }
    fn call_arg(&mut self) -> Result<String, ParseError> {
        self.expect(b'(')?;
        let q = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(self.err("expected a quoted name")),
        };
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos] != q {
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Err(ParseError {
                position: start,
                message: "unterminated string".into(),
            });
        }
        // The quote is ASCII, so both ends are char boundaries.
        let name = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        self.pos += 1;
        self.expect(b')')?;
        Ok(name)
    }
    fn op(&mut self) -> Result<CmpOp, ParseError> {
        self.ws();
        let rest = &self.s[self.pos..];
        let (op, len) = if rest.starts_with(b"==") {
            (CmpOp::Eq, 2)
        } else if rest.starts_with(b"!=") || rest.starts_with(b"<>") {
            (CmpOp::Ne, 2)
        } else if rest.starts_with(b">=") {
            (CmpOp::Ge, 2)
        } else if rest.starts_with(b"<=") {
            (CmpOp::Le, 2)
        } else if rest.starts_with(b"=") {
            (CmpOp::Eq, 1)
        } else if rest.starts_with(b">") {
            (CmpOp::Gt, 1)
        } else if rest.starts_with(b"<") {
            (CmpOp::Lt, 1)
        } else {
            return Err(self.err("expected a comparison operator (= != >= <= > <)"));
        };
        self.pos += len;
        Ok(op)
    }
    fn int(&mut self) -> Result<i64, ParseError> {
        self.ws();
        let start = self.pos;
        if self.pos < self.s.len() && (self.s[self.pos] == b'-' || self.s[self.pos] == b'+') {
            self.pos += 1;
        }
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(ParseError {
                position: start,
                message: "expected an integer level".into(),
            })
    }
}

/// A Virtual Agent Group's membership computed from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VagMembership {
    /// The group.
    pub group_dbid: Dbid,
    /// Persons for whom the script is true.
    pub members: Vec<Dbid>,
    /// Persons for whom the result depends on `LoggedIn` terms (not evaluable).
    pub undetermined: Vec<Dbid>,
    /// The `LoggedIn` terms of the script (empty when fully evaluable).
    pub not_evaluable_terms: Vec<String>,
}

/// Evaluates an agent group's `virtual/script` against every agent (`is_agent`, not Deleted)
/// of the group's tenant. `None` when the group is not virtual; `Some(Err)` when the script
/// does not parse.
pub fn evaluate_group(
    snapshot: &Snapshot,
    group: &AgentGroup,
) -> Option<Result<VagMembership, ParseError>> {
    let script = group.virtual_script()?;
    let expr = match Expr::parse(script) {
        Ok(e) => e,
        Err(e) => return Some(Err(e)),
    };
    let skill_names: BTreeMap<Dbid, &str> = snapshot
        .skills
        .values()
        .filter(|s| s.state != ObjectState::Deleted)
        .map(|s| (s.dbid, s.name.as_str()))
        .collect();
    let mut out = VagMembership {
        group_dbid: group.dbid,
        members: Vec::new(),
        undetermined: Vec::new(),
        not_evaluable_terms: expr.logged_in_terms(),
    };
    for p in snapshot.persons.values() {
        if !p.is_agent || p.state == ObjectState::Deleted || p.tenant_dbid != group.tenant_dbid {
            continue;
        }
        let level_of = |name: &str| {
            p.skills
                .iter()
                .filter(|l| skill_names.get(&l.skill_dbid).is_some_and(|n| *n == name))
                .map(|l| l.level)
                .max()
        };
        match expr.evaluate(&level_of) {
            Truth::True => out.members.push(p.dbid),
            Truth::Unknown => out.undetermined.push(p.dbid),
            Truth::False => {}
        }
    }
    Some(Ok(out))
}

/// Evaluates every Virtual Agent Group of the snapshot, by group DBID.
pub fn evaluate_all(snapshot: &Snapshot) -> BTreeMap<Dbid, Result<VagMembership, ParseError>> {
    snapshot
        .agent_groups
        .values()
        .filter_map(|g| evaluate_group(snapshot, g).map(|r| (g.dbid, r)))
        .collect()
}

/// The members to use for a group: for a Virtual Agent Group whose script parses, the persons
/// it is definitely true for (undetermined ones, depending on `LoggedIn`, are left out);
/// otherwise the members stored in `cfg_agent_group`.
pub fn effective_members(snapshot: &Snapshot, group: &AgentGroup) -> Vec<Dbid> {
    match evaluate_group(snapshot, group) {
        Some(Ok(m)) => m.members,
        _ => group.members.clone(),
    }
}

/// The persons an agent group puts into every queue it is linked to (`hybrid/WFM_queue_number`):
/// the one queue-membership rule of the connector. Pure.
///
/// - A Deleted group puts nobody in.
/// - A Virtual Agent Group (annex `virtual/script`) whose script parses: exactly the agents its
///   script is definitely true for (see [`evaluate_group`]). The script **replaces** the rows
///   stored in `cfg_agent_group` for the group; they are not added to it. Agents for whom the
///   script depends on `LoggedIn` are left out (not evaluable from configuration).
/// - Any other group (a plain Agent Group, or a VAG whose script does not parse): its members
///   as stored in `cfg_agent_group`.
/// - Only persons present in `snapshot` and not Deleted.
///
/// Why replace: the deployment guide (`ex-engage-connector-deployment-guide.txt`) makes the
/// VAG's *membership* what feeds the queue, and says changes to that membership reach the queue:
/// "For each selected Engage VQ, the customer must identify an existing or create a Virtual Agent
/// Group (VAG) that will be used for Queue-User mapping" (l. 157), "Changes made to the Engage
/// VAG membership are synchronized to membership of the corresponding GC ACD queues" (l. 161),
/// "If an Engage Person is a member of one or several VAGs, which are linked to a VQ using the
/// hybrid/WFM_queue_number parameter, then a GC User derived from the Engage Person is added as a
/// member to the corresponding ACD queue" (l. 165, and l. 234 for "AGs/VAGs"), and "Virtual Queue
/// Members: The corresponding EX Org objects will be removed from the queue members list in
/// near-real-time" (l. 78). A VAG's membership is its script's result (Engage has no manual
/// members for a VAG; Configuration Server computes them from the script), so the script is the
/// membership: an agent whose skills stop matching leaves the VAG and must leave the queue, which
/// adding stored rows to the script's result would prevent while a stale row remains. Plain AGs
/// (l. 234, l. 861-863) have only stored members. The guide does not say this in one sentence;
/// this is the reading that keeps l. 161 true in both directions.
///
/// Evaluate against the whole snapshot, not a folder-filtered one: [`crate::FolderFilter`]
/// drops Skills outside the synced folders, and a script naming such a skill would then be
/// false for everyone, although the group's membership in Engage does not depend on what EXCS
/// syncs. Restrict the result to the synced persons afterwards.
pub fn queue_members(snapshot: &Snapshot, group: &AgentGroup) -> BTreeSet<Dbid> {
    if group.state == ObjectState::Deleted {
        return BTreeSet::new();
    }
    effective_members(snapshot, group)
        .into_iter()
        .filter(|p| {
            snapshot
                .persons
                .get(p)
                .is_some_and(|p| p.state != ObjectState::Deleted)
        })
        .collect()
}

/// Queue membership as configured: for every agent group (virtual or not) whose annex
/// `hybrid/WFM_queue_number` names a Virtual Queue DN number, the group's [`queue_members`] are
/// members of that queue. A number matching VQs on several switches feeds all of them. Returns
/// VQ DN DBID → person DBIDs, for VQs not Deleted (apply the folder filter to the result, not to
/// the snapshot: see [`queue_members`]).
pub fn wfm_queue_members(snapshot: &Snapshot) -> BTreeMap<Dbid, BTreeSet<Dbid>> {
    let mut by_number: BTreeMap<&str, Vec<Dbid>> = BTreeMap::new();
    for dn in snapshot
        .virtual_queues()
        .filter(|d| d.state != ObjectState::Deleted)
    {
        by_number
            .entry(dn.number.as_str())
            .or_default()
            .push(dn.dbid);
    }
    let mut out: BTreeMap<Dbid, BTreeSet<Dbid>> = BTreeMap::new();
    for g in snapshot.agent_groups.values() {
        let numbers = g.wfm_queue_numbers();
        if numbers.is_empty() {
            continue;
        }
        let members = queue_members(snapshot, g);
        for n in numbers {
            for dn in by_number.get(n).into_iter().flatten() {
                out.entry(*dn).or_default().extend(members.iter().copied());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn levels(pairs: &[(&str, i64)]) -> impl Fn(&str) -> Option<i64> + use<> {
        let v: Vec<(String, i64)> = pairs.iter().map(|(n, l)| (n.to_string(), *l)).collect();
        move |name: &str| v.iter().find(|(n, _)| n == name).map(|(_, l)| *l)
    }

    #[test]
    fn parses_and_evaluates_skill_comparisons() {
        let e = Expr::parse(r#"Skill("Sales") >= 5 & ~SkillExists("Claims")"#).unwrap();
        assert_eq!(e.evaluate(&levels(&[("Sales", 5)])), Truth::True);
        assert_eq!(e.evaluate(&levels(&[("Sales", 4)])), Truth::False);
        assert_eq!(
            e.evaluate(&levels(&[("Sales", 9), ("Claims", 0)])),
            Truth::False
        );
        assert_eq!(e.evaluate(&levels(&[])), Truth::False);
    }

    #[test]
    fn every_operator() {
        let l = levels(&[("A", 3)]);
        for (op, want) in [
            ("=", true),
            ("==", true),
            ("!=", false),
            ("<>", false),
            (">=", true),
            ("<=", true),
            (">", false),
            ("<", false),
        ] {
            let e = Expr::parse(&format!("Skill(\"A\") {op} 3")).unwrap();
            assert_eq!(e.evaluate(&l), Truth::from_bool(want), "op {op}");
        }
        assert_eq!(
            Expr::parse("Skill('A')>-1").unwrap().evaluate(&l),
            Truth::True
        );
    }

    #[test]
    fn precedence_and_parentheses() {
        // & binds tighter than |.
        let e = Expr::parse(r#"SkillExists("A") | SkillExists("B") & SkillExists("C")"#).unwrap();
        assert_eq!(e.evaluate(&levels(&[("A", 1)])), Truth::True);
        let e = Expr::parse(r#"(SkillExists("A") | SkillExists("B")) & SkillExists("C")"#).unwrap();
        assert_eq!(e.evaluate(&levels(&[("A", 1)])), Truth::False);
        assert_eq!(e.evaluate(&levels(&[("B", 1), ("C", 2)])), Truth::True);
        let e = Expr::parse(r#"~~skillexists("A")"#).unwrap();
        assert_eq!(e.evaluate(&levels(&[("A", 1)])), Truth::True);
    }

    #[test]
    fn logged_in_is_not_evaluable() {
        let e = Expr::parse(r#"Skill("A") > 1 & LoggedIn("VQ1@SW1")"#).unwrap();
        assert_eq!(e.logged_in_terms(), vec!["VQ1@SW1".to_string()]);
        assert_eq!(e.evaluate(&levels(&[("A", 5)])), Truth::Unknown);
        // False & unknown is false; true | unknown is true.
        assert_eq!(e.evaluate(&levels(&[("A", 0)])), Truth::False);
        let e = Expr::parse(r#"SkillExists("A") | LoggedIn("SW1")"#).unwrap();
        assert_eq!(e.evaluate(&levels(&[("A", 0)])), Truth::True);
        assert_eq!(e.evaluate(&levels(&[])), Truth::Unknown);
    }

    #[test]
    fn errors_say_where() {
        let e = Expr::parse(r#"Skill("A") >> 3"#).unwrap_err();
        assert_eq!(e.position, 12);
        assert!(Expr::parse(r#"Skill("A" > 3"#).is_err());
        assert!(
            Expr::parse(r#"Foo("A")"#)
                .unwrap_err()
                .message
                .contains("unknown function")
        );
        assert!(Expr::parse("").is_err());
        assert!(Expr::parse(r#"SkillExists("A") SkillExists("B")"#).is_err());
        assert!(
            Expr::parse(&"(".repeat(1000))
                .unwrap_err()
                .message
                .contains("deeply")
        );
        assert!(Expr::parse(&"~".repeat(1000)).is_err());
    }

    fn arb_expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            ("[A-Za-z ]{1,6}", 0..6usize, -3i64..12).prop_map(|(name, op, level)| Expr::Skill {
                name,
                op: [
                    CmpOp::Eq,
                    CmpOp::Ne,
                    CmpOp::Ge,
                    CmpOp::Le,
                    CmpOp::Gt,
                    CmpOp::Lt
                ][op],
                level
            }),
            "[A-Za-z]{1,6}".prop_map(Expr::SkillExists),
            "[A-Za-z@]{1,6}".prop_map(Expr::LoggedIn),
        ];
        leaf.prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            ]
        })
    }

    mod queue_membership {
        use super::super::*;
        use crate::model::{Annex, Person, Skill, SkillLevel};

        const SALES: Dbid = 1;

        fn person(dbid: Dbid, sales: i64) -> Person {
            Person {
                dbid,
                tenant_dbid: 1,
                first_name: None,
                last_name: None,
                user_name: Some(format!("p{dbid}")),
                employee_id: None,
                email: None,
                is_agent: true,
                state: ObjectState::Enabled,
                skills: vec![SkillLevel {
                    skill_dbid: SALES,
                    level: sales,
                }],
                agent_logins: vec![],
                annex: Annex::default(),
                last_modified: None,
            }
        }

        fn group(dbid: Dbid, script: Option<&str>, stored: &[Dbid]) -> AgentGroup {
            let mut annex = Annex::default();
            if let Some(script) = script {
                annex.push("virtual", "script", script);
            }
            annex.push("hybrid", "WFM_queue_number", "VQ_Sales");
            AgentGroup {
                dbid,
                tenant_dbid: 1,
                name: format!("G{dbid}"),
                state: ObjectState::Enabled,
                members: stored.to_vec(),
                annex,
                last_modified: None,
            }
        }

        /// Sales levels: 1 → 5, 2 → 1, 3 → 9 but Deleted, 4 → 9 but not an agent, 5 → 9 in
        /// another tenant.
        fn snapshot() -> Snapshot {
            let mut s = Snapshot::default();
            s.skills.insert(
                SALES,
                Skill {
                    dbid: SALES,
                    tenant_dbid: 1,
                    name: "Sales".into(),
                    state: ObjectState::Enabled,
                    annex: Annex::default(),
                    last_modified: None,
                },
            );
            s.persons.insert(1, person(1, 5));
            s.persons.insert(2, person(2, 1));
            let mut deleted = person(3, 9);
            deleted.state = ObjectState::Deleted;
            s.persons.insert(3, deleted);
            let mut non_agent = person(4, 9);
            non_agent.is_agent = false;
            s.persons.insert(4, non_agent);
            let mut elsewhere = person(5, 9);
            elsewhere.tenant_dbid = 2;
            s.persons.insert(5, elsewhere);
            s
        }

        fn set(v: &[Dbid]) -> BTreeSet<Dbid> {
            v.iter().copied().collect()
        }

        #[test]
        fn a_vag_script_replaces_the_stored_members() {
            // Person 2 is stored as a member but the script is false for them: replace, not add.
            let s = snapshot();
            let g = group(10, Some(r#"Skill("Sales") >= 3"#), &[2]);
            assert_eq!(queue_members(&s, &g), set(&[1]));
            // And the script's matches count even when nothing is stored.
            let g = group(10, Some(r#"Skill("Sales") >= 3"#), &[]);
            assert_eq!(queue_members(&s, &g), set(&[1]));
        }

        #[test]
        fn a_vag_script_that_depends_on_logged_in_leaves_undetermined_agents_out() {
            let s = snapshot();
            let g = group(10, Some(r#"Skill("Sales") > 0 & LoggedIn("VQ@SW")"#), &[1]);
            assert_eq!(queue_members(&s, &g), BTreeSet::new());
            let g = group(10, Some(r#"Skill("Sales") > 4 | LoggedIn("VQ@SW")"#), &[]);
            assert_eq!(queue_members(&s, &g), set(&[1]));
        }

        #[test]
        fn a_plain_group_or_an_unparsable_script_uses_the_stored_members() {
            let s = snapshot();
            // Deleted (3) and unknown (99) persons are dropped; non-agents stay if stored.
            let g = group(11, None, &[1, 2, 3, 4, 99]);
            assert_eq!(queue_members(&s, &g), set(&[1, 2, 4]));
            let g = group(12, Some(r#"Skill("Sales" >= 3"#), &[2]);
            assert_eq!(queue_members(&s, &g), set(&[2]));
        }

        #[test]
        fn a_deleted_group_puts_nobody_in() {
            let s = snapshot();
            let mut g = group(11, None, &[1, 2]);
            g.state = ObjectState::Deleted;
            assert_eq!(queue_members(&s, &g), BTreeSet::new());
            let mut g = group(10, Some(r#"Skill("Sales") >= 3"#), &[]);
            g.state = ObjectState::Deleted;
            assert_eq!(queue_members(&s, &g), BTreeSet::new());
        }

        #[test]
        fn wfm_queue_members_applies_the_rule_per_linked_vq() {
            use crate::model::{Dn, DnType};
            let mut s = snapshot();
            for (dbid, state) in [(20, ObjectState::Enabled), (21, ObjectState::Deleted)] {
                s.dns.insert(
                    dbid,
                    Dn {
                        dbid,
                        switch_dbid: dbid,
                        tenant_dbid: Some(1),
                        dn_type: DnType::VirtAcdQueue,
                        number: "VQ_Sales".into(),
                        state,
                        annex: Annex::default(),
                        last_modified: None,
                    },
                );
            }
            s.agent_groups
                .insert(10, group(10, Some(r#"Skill("Sales") >= 3"#), &[2]));
            s.agent_groups.insert(11, group(11, None, &[4]));
            let qm = wfm_queue_members(&s);
            assert_eq!(qm.keys().copied().collect::<Vec<_>>(), vec![20]);
            assert_eq!(qm[&20], set(&[1, 4]));
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(s in "\\PC{0,80}") {
            let _ = Expr::parse(&s);
        }

        #[test]
        fn never_panics_on_grammar_like_input(s in "[()~&|!<>= 0-9\"'a-zA-Z]{0,80}") {
            if let Ok(e) = Expr::parse(&s) {
                let _ = e.evaluate(&|_| Some(1));
            }
        }

        #[test]
        fn display_round_trips(e in arb_expr()) {
            let text = e.to_string();
            prop_assert_eq!(Expr::parse(&text).unwrap(), e);
        }
    }
}
