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

#[cfg(test)]
mod legacy;
mod parser;

/// Nesting limit: deeper input is rejected instead of overflowing the stack. The whole script
/// counts one level, and each parenthesised group and each `~` one more.
pub const MAX_DEPTH: usize = 64;

/// Height limit of a parsed tree: the most `&`, `|` and `~` operators on one path from the root
/// to a term (`a & b & c` is two deep: `&` chains fold to the left). Evaluating, printing and
/// dropping an [`Expr`] recurse once per level, so a taller tree (a flat chain of a few
/// thousand terms, tens of kilobytes of script) is rejected with
/// [`ParseErrorKind::TooManyOperators`] instead of overflowing a 2 MiB thread stack later. Real
/// scripts stay far below it.
pub const MAX_OPERATOR_DEPTH: usize = 512;

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

/// A script that does not parse: where ([`position`](Self::position), a byte offset into the
/// script, always on a `char` boundary and at most the script's length) and what
/// ([`kind`](Self::kind); [`message`](Self::message) is its text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "virtual agent group script: {message} at byte {position}; fix the group's annex virtual/script"
)]
#[non_exhaustive]
pub struct ParseError {
    /// Byte offset.
    pub position: usize,
    /// What is wrong, as text (`kind.to_string()`).
    pub message: String,
    /// What is wrong, typed.
    pub kind: ParseErrorKind,
}

impl ParseError {
    fn new(position: usize, kind: ParseErrorKind) -> ParseError {
        ParseError {
            position,
            message: kind.to_string(),
            kind,
        }
    }
}

/// What is wrong with a script, or what was expected at [`ParseError::position`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A required punctuation character (`(` or `)`) is missing.
    #[error("expected `{0}`")]
    ExpectedChar(char),
    /// A term was expected (also for an empty script).
    #[error("expected Skill, SkillExists, LoggedIn, `~` or `(`")]
    ExpectedTerm,
    /// A word that is not `Skill`, `SkillExists` or `LoggedIn` (lower-cased here).
    #[error("unknown function `{0}`")]
    UnknownFunction(String),
    /// A function argument is not a `"`- or `'`-quoted name.
    #[error("expected a quoted name")]
    ExpectedQuotedName,
    /// A quoted name has no closing quote; the position is just after the opening quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// `Skill(..)` is not followed by a comparison operator.
    #[error("expected a comparison operator (= != >= <= > <)")]
    ExpectedComparison,
    /// A comparison is not followed by a decimal level that fits an `i64`.
    #[error("expected an integer level")]
    ExpectedLevel,
    /// More than [`MAX_DEPTH`] nested groups and `~`; the position is just after the `(` or
    /// `~` that passed the bound.
    #[error("expression nested too deeply")]
    TooDeep,
    /// More than [`MAX_OPERATOR_DEPTH`] operators on one path of the tree (a very long `&` /
    /// `|` chain); the position is the operator that passed the bound.
    #[error(
        "expression has too many operators (more than {} on one path); simplify the script",
        MAX_OPERATOR_DEPTH
    )]
    TooManyOperators,
    /// A complete expression is followed by something other than whitespace.
    #[error("unexpected trailing input")]
    TrailingInput,
    /// Any other syntax error (not produced by the current grammar; kept for forward
    /// compatibility).
    #[error("{0}")]
    Syntax(String),
}

impl Expr {
    /// Parses a script (see the grammar in the [module docs](self)). Never panics; nesting
    /// deeper than [`MAX_DEPTH`] is rejected with [`ParseErrorKind::TooDeep`].
    pub fn parse(input: &str) -> Result<Expr, ParseError> {
        parser::script(input)
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

/// Prints the expression in the script grammar, fully parenthesised: `~(e)`, `(a & b)`,
/// `(a | b)`, `Skill("name") >= 3` (operators `=` and `!=` for [`CmpOp::Eq`] / [`CmpOp::Ne`]).
/// A name is quoted with `"`, or with `'` when it contains `"`.
///
/// [`Expr::parse`] reads the text back to an equal `Expr` provided (1) no name contains both
/// `"` and `'` (the grammar has no escapes, so such a name cannot be written at all), and (2)
/// the printed nesting fits [`MAX_DEPTH`]: every `Not`, `And` and `Or` node adds one level, so
/// a tree deeper than `MAX_DEPTH - 1` operator nodes prints to text the parser rejects with
/// [`ParseErrorKind::TooDeep`].
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
                write!(f, "Skill({}) {op} {level}", Quoted(name))
            }
            Expr::SkillExists(n) => write!(f, "SkillExists({})", Quoted(n)),
            Expr::LoggedIn(n) => write!(f, "LoggedIn({})", Quoted(n)),
            Expr::Not(e) => write!(f, "~({e})"),
            Expr::And(a, b) => write!(f, "({a} & {b})"),
            Expr::Or(a, b) => write!(f, "({a} | {b})"),
        }
    }
}

/// The nesting [`Expr::parse`] counts in `e`'s `Display` text: one for the script, one for
/// each `And` / `Or` group, two for each `Not` (`~` and its group).
pub(crate) fn printed_depth(e: &Expr) -> usize {
    fn inner(e: &Expr) -> usize {
        match e {
            Expr::Skill { .. } | Expr::SkillExists(_) | Expr::LoggedIn(_) => 0,
            Expr::Not(e) => 2 + inner(e),
            Expr::And(a, b) | Expr::Or(a, b) => 1 + inner(a).max(inner(b)),
        }
    }
    1 + inner(e)
}

/// A name between the quotes the grammar can read it back from.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = if self.0.contains('"') && !self.0.contains('\'') {
            '\''
        } else {
            '"'
        };
        write!(f, "{q}{}{q}", self.0)
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

    /// Parses with the nom parser, errors as `(position, message)` like the legacy oracle.
    fn both(s: &str) -> Result<Expr, (usize, String)> {
        let new = Expr::parse(s).map_err(|e| {
            assert_eq!(e.message, e.kind.to_string());
            (e.position, e.message)
        });
        assert_eq!(
            new,
            legacy::parse(s),
            "nom and legacy parsers disagree on {s:?}"
        );
        new
    }

    fn skill_exists(n: &str) -> Box<Expr> {
        Box::new(Expr::SkillExists(n.into()))
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_both() {
        let (a, b, c) = (skill_exists("A"), skill_exists("B"), skill_exists("C"));
        assert_eq!(
            both("SkillExists('A') | SkillExists('B') & SkillExists('C')"),
            Ok(Expr::Or(
                a.clone(),
                Box::new(Expr::And(b.clone(), c.clone()))
            ))
        );
        assert_eq!(
            both("~SkillExists('A') & SkillExists('B')"),
            Ok(Expr::And(Box::new(Expr::Not(a.clone())), b.clone()))
        );
        assert_eq!(
            both("~(SkillExists('A') & SkillExists('B'))"),
            Ok(Expr::Not(Box::new(Expr::And(a.clone(), b.clone()))))
        );
        // Chains fold to the left; parentheses override.
        assert_eq!(
            both("SkillExists('A')|SkillExists('B')|SkillExists('C')"),
            Ok(Expr::Or(
                Box::new(Expr::Or(a.clone(), b.clone())),
                c.clone()
            ))
        );
        assert_eq!(
            both("SkillExists('A')&(SkillExists('B')&SkillExists('C'))"),
            Ok(Expr::And(a.clone(), Box::new(Expr::And(b, c))))
        );
        assert_eq!(both("((((SkillExists('A')))))"), Ok(*a));
    }

    #[test]
    fn whitespace_case_and_quotes() {
        let want = Ok(Expr::Skill {
            name: " Sales Team ".into(),
            op: CmpOp::Ge,
            level: -7,
        });
        assert_eq!(
            both("\t\r\n SKILL \x0c( \" Sales Team \" \n) >=\t-7 \n"),
            want
        );
        assert_eq!(both("sKiLl(' Sales Team ')>=-7"), want);
        // Names are verbatim between the quotes, the other quote included; no escapes.
        assert_eq!(
            both(r#"SkillExists('say "hi"')"#),
            Ok(*skill_exists(r#"say "hi""#))
        );
        assert_eq!(
            both(r#"LoggedIn("it's@SW")"#),
            Ok(Expr::LoggedIn("it's@SW".into()))
        );
        assert_eq!(both(r#"SkillExists("a\")"#), Ok(*skill_exists("a\\")));
        assert_eq!(both("SkillExists('')"), Ok(*skill_exists("")));
        assert_eq!(
            both("SkillExists('Ünïcødé ✓')"),
            Ok(*skill_exists("Ünïcødé ✓"))
        );
        // Vertical tab is not ASCII whitespace for Rust (nor for the legacy parser).
        assert_eq!(both("\x0bSkillExists('A')").unwrap_err().0, 0);
        assert_eq!(
            both("Skill('A') = +12"),
            Ok(Expr::Skill {
                name: "A".into(),
                op: CmpOp::Eq,
                level: 12
            })
        );
    }

    #[test]
    fn errors_have_a_kind_and_a_position() {
        let kind = |s: &str| {
            both(s).unwrap_err();
            let e = Expr::parse(s).unwrap_err();
            (e.position, e.kind)
        };
        use ParseErrorKind as K;
        assert_eq!(kind(""), (0, K::ExpectedTerm));
        assert_eq!(kind("   "), (3, K::ExpectedTerm));
        assert_eq!(kind("SkillExists('A') &"), (18, K::ExpectedTerm));
        assert_eq!(kind("SkillExists('A') | "), (19, K::ExpectedTerm));
        assert_eq!(kind("SkillExists('A') )"), (17, K::TrailingInput));
        assert_eq!(kind("SkillExists('A') x"), (17, K::TrailingInput));
        assert_eq!(kind("(SkillExists('A')"), (17, K::ExpectedChar(')')));
        assert_eq!(kind("SkillExists 'A'"), (12, K::ExpectedChar('(')));
        assert_eq!(kind("SkillExists('A'"), (15, K::ExpectedChar(')')));
        assert_eq!(kind("SkillExists(A)"), (12, K::ExpectedQuotedName));
        assert_eq!(kind("SkillExists('A)"), (13, K::UnterminatedString));
        assert_eq!(kind("SkillExists(\"A')"), (13, K::UnterminatedString));
        assert_eq!(
            kind("Skills('A')"),
            (0, K::UnknownFunction("skills".into()))
        );
        assert_eq!(kind(" ~ Skil('A')"), (3, K::UnknownFunction("skil".into())));
        assert_eq!(kind("Skill('A') 3"), (11, K::ExpectedComparison));
        assert_eq!(kind("Skill('A') => 3"), (12, K::ExpectedLevel));
        assert_eq!(kind("Skill('A') > +"), (13, K::ExpectedLevel));
        assert_eq!(kind("Skill('A') > 1.5"), (14, K::TrailingInput));
        assert_eq!(
            kind("Skill('A') > 99999999999999999999"),
            (13, K::ExpectedLevel)
        );
        assert_eq!(kind("1"), (0, K::ExpectedTerm));
        let e = Expr::parse("Skill('A') 3").unwrap_err();
        assert_eq!(
            e.to_string(),
            "virtual agent group script: expected a comparison operator (= != >= <= > <) at byte \
             11; fix the group's annex virtual/script"
        );
    }

    /// Stack for the parser at its bounds, a quarter of a tokio worker's or a test thread's
    /// 2 MiB (unoptimised build; an optimised one needs far less).
    const STACK: usize = 512 * 1024;

    #[test]
    fn nesting_is_bounded_at_max_depth() {
        let atom = "SkillExists('A')";
        // The script is one level, each group or `~` one more.
        let ok_parens = format!(
            "{}{atom}{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(both(&ok_parens).is_ok());
        let deep = format!("{}{atom}{}", "( ".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        let e = Expr::parse(&deep).unwrap_err();
        assert_eq!(
            (e.position, e.kind),
            (2 * MAX_DEPTH - 1, ParseErrorKind::TooDeep)
        );
        both(&deep).unwrap_err();
        assert!(both(&format!("{}{atom}", "~".repeat(MAX_DEPTH - 1))).is_ok());
        let e = Expr::parse(&format!("{}{atom}", "~".repeat(MAX_DEPTH))).unwrap_err();
        assert_eq!((e.position, e.kind), (MAX_DEPTH, ParseErrorKind::TooDeep));
        // Far past the bound, in a small stack: rejected, not overflowed.
        let huge = "(~".repeat(200_000);
        let e = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || Expr::parse(&huge))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooDeep);
    }

    #[test]
    fn long_chains_are_bounded_at_max_operator_depth() {
        let atom = "SkillExists('A')";
        let chain = |n: usize| vec![atom; n].join(" | ");
        // n terms fold to n - 1 levels.
        let e = both(&chain(MAX_OPERATOR_DEPTH + 1)).unwrap();
        assert_eq!(e.evaluate(&|_| Some(1)), Truth::True);
        let e = Expr::parse(&chain(MAX_OPERATOR_DEPTH + 2)).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooManyOperators);
        assert_eq!(e.position, (MAX_OPERATOR_DEPTH + 1) * (atom.len() + 3) - 2);
        // Groups add their height to the chain around them; `~` adds one.
        let half = format!("({})", chain(MAX_OPERATOR_DEPTH / 2));
        assert!(Expr::parse(&format!("{half} & {half}")).is_ok());
        assert!(Expr::parse(&format!("{half} & ~{half}")).is_ok());
        assert!(Expr::parse(&format!("{half} & {atom} & {half}")).is_ok());
        assert!(Expr::parse(&format!("~({})", chain(MAX_OPERATOR_DEPTH))).is_ok());
        let e = Expr::parse(&format!("~({})", chain(MAX_OPERATOR_DEPTH + 1))).unwrap_err();
        assert_eq!((e.position, e.kind), (1, ParseErrorKind::TooManyOperators));
        // A script far past the bound (the old parser accepted it and the tree then overflowed
        // the stack when evaluated, printed or dropped) is rejected in a small stack.
        let huge = chain(200_000);
        let e = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || Expr::parse(&huge))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooManyOperators);
    }

    #[test]
    fn display_picks_a_quote_the_name_does_not_contain() {
        let e = Expr::And(
            skill_exists(r#"say "hi""#),
            Box::new(Expr::LoggedIn("it's".into())),
        );
        assert_eq!(
            e.to_string(),
            r#"(SkillExists('say "hi"') & LoggedIn("it's"))"#
        );
        assert_eq!(Expr::parse(&e.to_string()), Ok(e));
    }

    /// Names the grammar can write: any text without one of the two quote characters.
    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[^\"]{0,8}",
            "[^']{0,8}",
            "[ -~]{0,8}".prop_map(|s| s.replace('"', ""))
        ]
    }

    /// Trees whose printed form nests at most `MAX_DEPTH` levels (each operator prints one).
    fn arb_printable_expr() -> impl Strategy<Value = Expr> {
        let ops = [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Ge,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Lt,
        ];
        let leaf = prop_oneof![
            (arb_name(), 0..6usize, any::<i64>()).prop_map(move |(name, op, level)| {
                Expr::Skill {
                    name,
                    op: ops[op],
                    level,
                }
            }),
            arb_name().prop_map(Expr::SkillExists),
            arb_name().prop_map(Expr::LoggedIn),
        ];
        leaf.prop_recursive(MAX_DEPTH as u32 - 1, 128, 2, |inner| {
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
        fn display_round_trips_any_printable_tree(e in arb_printable_expr()) {
            let text = e.to_string();
            prop_assert_eq!(Expr::parse(&text), Ok(e));
        }

        #[test]
        fn same_language_as_the_legacy_parser(
            s in "[()~&|!<>=+\\- \t\n\r\x0b\x0c0-9\"'a-zA-Z@ÄЖ]{0,120}",
        ) {
            let _ = both(&s);
        }

        #[test]
        fn same_language_as_the_legacy_parser_near_valid(
            e in arb_expr(),
            cut in any::<prop::sample::Index>(),
            insert in "[()~&|<>= '\"xS1]{0,3}",
        ) {
            // Printed scripts, cut short and spliced with a few tokens.
            let text = e.to_string();
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let _ = both(&text);
            let _ = both(&text[..at]);
            let _ = both(&format!("{}{insert}{}", &text[..at], &text[at..]));
        }

        #[test]
        fn arbitrary_strings_never_panic_and_errors_point_into_the_script(s in "\\PC{0,200}") {
            match Expr::parse(&s) {
                Ok(e) => prop_assert_eq!(Expr::parse(&e.to_string()), Ok(e)),
                Err(e) => {
                    prop_assert!(e.position <= s.len());
                    prop_assert!(s.is_char_boundary(e.position));
                }
            }
            let _ = both(&s);
        }

        #[test]
        fn display_round_trips(e in arb_expr()) {
            let text = e.to_string();
            prop_assert_eq!(Expr::parse(&text).unwrap(), e);
        }
    }
}
