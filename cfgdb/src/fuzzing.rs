//! Entry point for the cargo-fuzz target `cfgdb_vag` (`fuzz/fuzz_targets/cfgdb_vag.rs`) and
//! the stable corpus replay test (`cfgdb/tests/fuzz_corpus.rs`).
//!
//! It panics when an invariant is broken: that is how a fuzzer reports a finding. It never
//! panics on merely malformed input.

use crate::vag::{self, Expr, MAX_DEPTH};

/// Parses `data` as a Virtual Agent Group script (`virtual/script`). Non-UTF-8 data is not a
/// script (annex values are text). A script that parses must evaluate, and print (with
/// `Display`) to text that parses back to the same tree when that text fits [`MAX_DEPTH`]; an
/// error must point into the script at a `char` boundary. Returns whether the script parsed.
pub fn vag_script(data: &[u8]) -> bool {
    let Ok(script) = std::str::from_utf8(data) else {
        return false;
    };
    match Expr::parse(script) {
        Ok(expr) => {
            let _ = expr.evaluate(&|name| Some(name.len() as i64));
            let _ = expr.evaluate(&|_| None);
            if vag::printed_depth(&expr) <= MAX_DEPTH {
                let text = expr.to_string();
                assert_eq!(
                    Expr::parse(&text).as_ref(),
                    Ok(&expr),
                    "the printed script {text:?} must parse back to the same tree"
                );
            }
            true
        }
        Err(e) => {
            assert!(e.position <= script.len(), "error past the script: {e}");
            assert!(
                script.is_char_boundary(e.position),
                "error inside a character: {e}"
            );
            assert_eq!(e.message, e.kind.to_string());
            false
        }
    }
}
