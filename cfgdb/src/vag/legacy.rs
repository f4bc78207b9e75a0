//! The hand-written recursive-descent parser that `parser.rs` replaced, kept verbatim (errors
//! as `(position, message)`) as a test oracle: the nom parser must accept the same scripts,
//! build the same trees and report the same errors at the same positions.

use super::{CmpOp, Expr, MAX_DEPTH};

type ParseError = (usize, String);

/// The old `Expr::parse`.
pub(super) fn parse(input: &str) -> Result<Expr, ParseError> {
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

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, m: &str) -> ParseError {
        (self.pos, m.to_string())
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
            return Err((start, "unterminated string".into()));
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
            .ok_or((start, "expected an integer level".into()))
    }
}
