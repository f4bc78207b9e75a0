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

use std::collections::BTreeMap;
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

/// Queue membership as configured: for every agent group (virtual or not, not Deleted) whose
/// annex `hybrid/WFM_queue_number` names a Virtual Queue DN number, the group's
/// [`effective_members`] are members of that queue. A number matching VQs on several switches
/// feeds all of them. Returns VQ DN DBID → person DBIDs (only persons present in the snapshot;
/// apply the folder filter first to restrict both sides).
pub fn wfm_queue_members(snapshot: &Snapshot) -> BTreeMap<Dbid, std::collections::BTreeSet<Dbid>> {
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
    let mut out: BTreeMap<Dbid, std::collections::BTreeSet<Dbid>> = BTreeMap::new();
    for g in snapshot
        .agent_groups
        .values()
        .filter(|g| g.state != ObjectState::Deleted)
    {
        let numbers = g.wfm_queue_numbers();
        if numbers.is_empty() {
            continue;
        }
        let members: Vec<Dbid> = effective_members(snapshot, g)
            .into_iter()
            .filter(|p| {
                snapshot
                    .persons
                    .get(p)
                    .is_some_and(|p| p.state != ObjectState::Deleted)
            })
            .collect();
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
