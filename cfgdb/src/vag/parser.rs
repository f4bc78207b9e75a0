//! The VAG script grammar as nom 8 combinators (complete input: a script is one annex value,
//! never a stream).
//!
//! Every rule skips ASCII whitespace (`u8::is_ascii_whitespace`: space, tab, LF, FF, CR) before
//! its token. The parser is predictive: the only choices are `~` / `(` / a function name in
//! `unary` and `primary`, and whether a `|` / `&` follows; once a token has committed to a
//! rule, any later mismatch is a [`nom::Err::Failure`] (no backtracking), so the reported
//! position is where the script first stops making sense.
//!
//! Two bounds keep the stack small, here and in every recursive walk of the tree afterwards
//! (evaluation, printing, drop):
//! - Recursion depth is passed down explicitly: every `expr` (the whole script and each
//!   parenthesised group) and every `~` costs one level, and more than [`MAX_DEPTH`] levels
//!   fail with [`ParseErrorKind::TooDeep`].
//! - Each rule returns the height of the tree it built (`&` and `|` chains fold to the left, so
//!   a flat chain of n terms is n - 1 levels deep); a tree higher than [`MAX_OPERATOR_DEPTH`]
//!   fails with [`ParseErrorKind::TooManyOperators`] at the operator that passed the bound.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while};
use nom::character::complete::{char, digit0, one_of};
use nom::combinator::{eof, opt, value};
use nom::error::{ErrorKind, FromExternalError, ParseError as NomParseError};
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

use super::{CmpOp, Expr, MAX_DEPTH, MAX_OPERATOR_DEPTH, ParseError, ParseErrorKind};

/// The parser's internal error: where (the unparsed rest of the script) and what.
#[derive(Debug)]
pub(super) struct Fail<'a> {
    rest: &'a str,
    kind: ParseErrorKind,
}

impl Fail<'_> {
    /// The public error, with `rest` turned into a byte offset into `script`.
    fn into_public(self, script: &str) -> ParseError {
        // `rest` is always a suffix of `script`; saturate anyway rather than trust it.
        let position = script.len().saturating_sub(self.rest.len());
        ParseError::new(position, self.kind)
    }
}

impl<'a> NomParseError<&'a str> for Fail<'a> {
    fn from_error_kind(rest: &'a str, kind: ErrorKind) -> Self {
        Fail {
            rest,
            kind: ParseErrorKind::Syntax(kind.description().to_string()),
        }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        // Keep the innermost error: it says what was expected where.
        other
    }

    fn from_char(rest: &'a str, c: char) -> Self {
        Fail {
            rest,
            kind: ParseErrorKind::ExpectedChar(c),
        }
    }
}

impl<'a, E> FromExternalError<&'a str, E> for Fail<'a> {
    fn from_external_error(rest: &'a str, kind: ErrorKind, _: E) -> Self {
        Self::from_error_kind(rest, kind)
    }
}

type Res<'a, O> = IResult<&'a str, O, Fail<'a>>;

/// A committed failure (no backtracking past it) of `kind` at `rest`.
fn failure<O>(rest: &str, kind: ParseErrorKind) -> Res<'_, O> {
    Err(nom::Err::Failure(Fail { rest, kind }))
}

/// Runs `parser`; if it does not match, fails (committed) with `kind` at the position where
/// `parser` started. Failures from inside `parser` pass through unchanged.
fn expect<'a, O>(
    kind: ParseErrorKind,
    mut parser: impl Parser<&'a str, Output = O, Error = Fail<'a>>,
) -> impl Parser<&'a str, Output = O, Error = Fail<'a>> {
    move |rest: &'a str| match parser.parse(rest) {
        Err(nom::Err::Error(_)) => failure(rest, kind.clone()),
        other => other,
    }
}

/// ASCII whitespace, possibly none.
fn ws(i: &str) -> Res<'_, &str> {
    take_while(|c: char| c.is_ascii_whitespace()).parse(i)
}

/// The single-character token `c` after optional whitespace; a recoverable error if absent.
fn sym<'a>(c: char) -> impl Parser<&'a str, Output = char, Error = Fail<'a>> {
    preceded(ws, char(c))
}

/// The single-character token `c`, required: its absence fails with "expected `c`" at the
/// first non-blank character.
fn required<'a>(c: char) -> impl Parser<&'a str, Output = char, Error = Fail<'a>> {
    preceded(ws, expect(ParseErrorKind::ExpectedChar(c), char(c)))
}

/// One more nesting level, or [`ParseErrorKind::TooDeep`] at `i`.
fn deeper(i: &str, depth: usize) -> Result<usize, nom::Err<Fail<'_>>> {
    let depth = depth + 1;
    if depth > MAX_DEPTH {
        return Err(nom::Err::Failure(Fail {
            rest: i,
            kind: ParseErrorKind::TooDeep,
        }));
    }
    Ok(depth)
}

/// `script := expr EOF` (trailing whitespace allowed).
pub(super) fn script(input: &str) -> Result<Expr, ParseError> {
    terminated(
        |i| expr(i, 0),
        preceded(ws, expect(ParseErrorKind::TrailingInput, eof)),
    )
    .parse(input)
    .map(|(_, (e, _))| e)
    .map_err(|e| match e {
        nom::Err::Error(f) | nom::Err::Failure(f) => f.into_public(input),
        // Only streaming parsers ask for more input; every parser here is `complete`.
        nom::Err::Incomplete(_) => ParseError::new(
            input.len(),
            ParseErrorKind::Syntax("incomplete input".into()),
        ),
    })
}

/// A parsed expression and its height: the most `And` / `Or` / `Not` nodes on one path from
/// it down to a term (0 for a term).
type Node = (Expr, usize);

/// The height of a node with children of height `h`, or
/// [`ParseErrorKind::TooManyOperators`] at `at` when it passes [`MAX_OPERATOR_DEPTH`].
fn taller(at: &str, h: usize) -> Result<usize, nom::Err<Fail<'_>>> {
    let h = h + 1;
    if h > MAX_OPERATOR_DEPTH {
        return Err(nom::Err::Failure(Fail {
            rest: at,
            kind: ParseErrorKind::TooManyOperators,
        }));
    }
    Ok(h)
}

/// Folds `first (op operand)*` to the left with `join`; an operand missing after `op` is a
/// committed failure.
fn chain<'a>(
    i: &'a str,
    op: char,
    mut operand: impl FnMut(&'a str) -> Res<'a, Node>,
    join: fn(Box<Expr>, Box<Expr>) -> Expr,
) -> Res<'a, Node> {
    let (mut i, (mut acc, mut height)) = operand(i)?;
    loop {
        let (at_op, _) = ws(i)?;
        match char(op).parse(at_op) {
            Ok((rest, _)) => {
                let (rest, (rhs, rhs_height)) = operand(rest)?;
                height = taller(at_op, height.max(rhs_height))?;
                acc = join(Box::new(acc), Box::new(rhs));
                i = rest;
            }
            Err(nom::Err::Error(_)) => return Ok((i, (acc, height))),
            Err(e) => return Err(e),
        }
    }
}

/// `expr := and ('|' and)*`; costs one nesting level.
fn expr(i: &str, depth: usize) -> Res<'_, Node> {
    let depth = deeper(i, depth)?;
    chain(i, '|', |i| and(i, depth), Expr::Or)
}

/// `and := unary ('&' unary)*`.
fn and(i: &str, depth: usize) -> Res<'_, Node> {
    chain(i, '&', |i| unary(i, depth), Expr::And)
}

/// `unary := '~' unary | primary`; each `~` costs one nesting level.
fn unary(i: &str, depth: usize) -> Res<'_, Node> {
    alt((
        preceded(sym('~'), |i| {
            let depth = deeper(i, depth)?;
            let (rest, (e, h)) = unary(i, depth)?;
            Ok((rest, (Expr::Not(Box::new(e)), taller(i, h)?)))
        }),
        |i| primary(i, depth),
    ))
    .parse(i)
}

/// `primary := '(' expr ')' | call`.
fn primary(i: &str, depth: usize) -> Res<'_, Node> {
    alt((
        delimited(sym('('), |i| expr(i, depth), required(')')),
        call.map(|e| (e, 0)),
    ))
    .parse(i)
}

/// `Skill(name) op INT | SkillExists(name) | LoggedIn(name)`, function names in any case.
fn call(i: &str) -> Res<'_, Expr> {
    let (start, _) = ws(i)?;
    let (i, word) = take_while(|c: char| c.is_ascii_alphabetic()).parse(start)?;
    match word.to_ascii_lowercase().as_str() {
        "skill" => (argument, comparison, level)
            .map(|(name, op, level)| Expr::Skill { name, op, level })
            .parse(i),
        "skillexists" => argument.map(Expr::SkillExists).parse(i),
        "loggedin" => argument.map(Expr::LoggedIn).parse(i),
        "" => failure(start, ParseErrorKind::ExpectedTerm),
        other => failure(start, ParseErrorKind::UnknownFunction(other.to_string())),
    }
}

/// `'(' quoted ')'`.
fn argument(i: &str) -> Res<'_, String> {
    delimited(required('('), quoted, required(')')).parse(i)
}

/// A name in `"` or `'`, running to the next same quote (there are no escapes, so a name
/// cannot contain its own quote character).
fn quoted(i: &str) -> Res<'_, String> {
    let (i, _) = ws(i)?;
    let (body, q) = expect(ParseErrorKind::ExpectedQuotedName, one_of("\"'")).parse(i)?;
    let (rest, name) = take_till(|c| c == q).parse(body)?;
    match char::<_, Fail<'_>>(q).parse(rest) {
        Ok((rest, _)) => Ok((rest, name.to_string())),
        Err(_) => failure(body, ParseErrorKind::UnterminatedString),
    }
}

/// `= == != <> >= <= > <` (two-character operators first).
fn comparison(i: &str) -> Res<'_, CmpOp> {
    preceded(
        ws,
        expect(
            ParseErrorKind::ExpectedComparison,
            alt((
                value(CmpOp::Eq, tag("==")),
                value(CmpOp::Ne, alt((tag("!="), tag("<>")))),
                value(CmpOp::Ge, tag(">=")),
                value(CmpOp::Le, tag("<=")),
                value(CmpOp::Eq, tag("=")),
                value(CmpOp::Gt, tag(">")),
                value(CmpOp::Lt, tag("<")),
            )),
        ),
    )
    .parse(i)
}

/// An optionally signed decimal `i64`.
fn level(i: &str) -> Res<'_, i64> {
    let (start, _) = ws(i)?;
    // The span is sliced by hand: `recognize` over `(opt(one_of("+-")), digit0)` returned an
    // empty span for "3" with nom 8.0.0.
    let (rest, _) = (opt(one_of("+-")), digit0).parse(start)?;
    let digits = &start[..start.len() - rest.len()];
    match digits.parse::<i64>() {
        Ok(n) => Ok((rest, n)),
        Err(_) => failure(start, ParseErrorKind::ExpectedLevel),
    }
}
