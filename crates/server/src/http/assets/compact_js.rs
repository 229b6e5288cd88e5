//! A JavaScript compactor: drops comments and the whitespace that carries no
//! meaning, and keeps everything else byte for byte.
//!
//! Not a minifier (names stay, nothing is rewritten), so it needs no parser and
//! no dependency: a scanner that knows strings, template literals (with their
//! `${}` nesting) and regular expression literals well enough not to mistake
//! their contents for comments. Line breaks between statements are kept where
//! automatic semicolon insertion might need them. Our own files are its only
//! input; a test runs every compacted file through `node --check`.

/// Compacts `source`. Input it cannot follow (an unterminated string or
/// comment) is copied through as it is from that point.
pub fn compact(source: &str) -> String {
    let mut scan = Scanner {
        src: source.as_bytes(),
        pos: 0,
        out: Vec::with_capacity(source.len()),
        templates: Vec::new(),
        last_word: Vec::new(),
        pending: Gap::None,
    };
    scan.run();
    // Only whole UTF-8 sequences are copied or dropped, so this cannot fail;
    // fall back to the source rather than panic all the same.
    String::from_utf8(scan.out).unwrap_or_else(|_| source.to_owned())
}

/// Whitespace seen but not yet written: written only if the next token needs it.
#[derive(Clone, Copy, PartialEq)]
enum Gap {
    None,
    Space,
    Newline,
}

struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    /// For each open `${` of a template literal, the depth of `{` inside it.
    templates: Vec<usize>,
    /// The last identifier or keyword written (tells a regex from a division).
    last_word: Vec<u8>,
    pending: Gap,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// After these keywords a `/` starts a regular expression, not a division.
const REGEX_AFTER_WORDS: &[&[u8]] = &[
    b"return",
    b"typeof",
    b"instanceof",
    b"in",
    b"of",
    b"new",
    b"delete",
    b"void",
    b"throw",
    b"case",
    b"do",
    b"else",
    b"yield",
    b"await",
];

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn run(&mut self) {
        while let Some(b) = self.peek(0) {
            match b {
                b' ' | b'\t' | b'\r' => {
                    self.gap(Gap::Space);
                    self.pos += 1;
                }
                b'\n' => {
                    self.gap(Gap::Newline);
                    self.pos += 1;
                }
                b'/' if self.peek(1) == Some(b'/') => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
                b'/' if self.regex_allowed() => self.regex(),
                b'\'' | b'"' => self.string(b),
                b'`' => {
                    self.token_start(b);
                    self.out.push(b);
                    self.pos += 1;
                    self.template_body();
                }
                b'{' => {
                    if let Some(depth) = self.templates.last_mut() {
                        *depth += 1;
                    }
                    self.copy_one();
                }
                b'}' => {
                    if self.templates.last() == Some(&0) {
                        // The end of a `${...}`: back into the template's text.
                        self.templates.pop();
                        self.token_start(b);
                        self.out.push(b);
                        self.pos += 1;
                        self.template_body();
                    } else {
                        if let Some(depth) = self.templates.last_mut() {
                            *depth -= 1;
                        }
                        self.copy_one();
                    }
                }
                _ => self.copy_one(),
            }
        }
    }

    fn gap(&mut self, gap: Gap) {
        if gap == Gap::Newline || self.pending == Gap::None {
            self.pending = gap;
        }
    }

    /// Writes the pending whitespace if `next` needs it.
    fn token_start(&mut self, next: u8) {
        let pending = std::mem::replace(&mut self.pending, Gap::None);
        let Some(&prev) = self.out.last() else {
            return;
        };
        match pending {
            Gap::None => {}
            Gap::Newline => {
                // A line break matters only where a semicolon might be
                // inserted: not after an opener or separator, not before a
                // closer or separator.
                let joins = b"{([,;".contains(&prev) || b"})],;".contains(&next);
                if !joins {
                    self.out.push(b'\n');
                } else if needs_space(prev, next) {
                    self.out.push(b' ');
                }
            }
            Gap::Space => {
                if needs_space(prev, next) {
                    self.out.push(b' ');
                }
            }
        }
    }

    fn copy_one(&mut self) {
        let b = self.src[self.pos];
        self.token_start(b);
        if is_word(b) {
            if !self.out.last().copied().is_some_and(is_word) {
                self.last_word.clear();
            }
            self.last_word.push(b);
        } else {
            self.last_word.clear();
        }
        self.out.push(b);
        self.pos += 1;
    }

    fn block_comment(&mut self) {
        let rest = &self.src[self.pos + 2..];
        let Some(end) = rest.windows(2).position(|w| w == b"*/") else {
            self.copy_rest();
            return;
        };
        let had_newline = rest[..end].contains(&b'\n');
        self.pos += 2 + end + 2;
        self.gap(if had_newline {
            Gap::Newline
        } else {
            Gap::Space
        });
    }

    fn regex_allowed(&self) -> bool {
        // Whitespace is not written yet, so the last byte written is the last
        // token's end.
        match self.out.last() {
            Some(&b) if is_word(b) => REGEX_AFTER_WORDS.contains(&self.last_word.as_slice()),
            Some(b')' | b']' | b'}' | b'\'' | b'"' | b'`') => false,
            None | Some(_) => true,
        }
    }

    fn regex(&mut self) {
        self.token_start(b'/');
        self.last_word.clear();
        let start = self.pos;
        self.pos += 1;
        let mut in_class = false;
        while let Some(b) = self.peek(0) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'[' => in_class = true,
                b']' => in_class = false,
                b'/' if !in_class => break,
                b'\n' => {
                    // Not a regex after all: copy what was read unchanged.
                    break;
                }
                _ => {}
            }
        }
        while self.peek(0).is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let end = self.pos.min(self.src.len());
        self.out.extend_from_slice(&self.src[start..end]);
    }

    fn string(&mut self, quote: u8) {
        self.token_start(quote);
        self.last_word.clear();
        let start = self.pos;
        self.pos += 1;
        while let Some(b) = self.peek(0) {
            self.pos += 1;
            if b == b'\\' {
                self.pos += 1;
            } else if b == quote || b == b'\n' {
                break;
            }
        }
        let end = self.pos.min(self.src.len());
        self.out.extend_from_slice(&self.src[start..end]);
    }

    /// Copies a template literal's text after its opening backtick (or the
    /// `}` closing an interpolation) to its end or to the next `${`.
    fn template_body(&mut self) {
        self.last_word.clear();
        while let Some(b) = self.peek(0) {
            match b {
                b'\\' => {
                    let end = (self.pos + 2).min(self.src.len());
                    self.out.extend_from_slice(&self.src[self.pos..end]);
                    self.pos = end;
                }
                b'`' => {
                    self.out.push(b);
                    self.pos += 1;
                    return;
                }
                b'$' if self.peek(1) == Some(b'{') => {
                    self.out.extend_from_slice(b"${");
                    self.pos += 2;
                    self.templates.push(0);
                    return;
                }
                _ => {
                    self.out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn copy_rest(&mut self) {
        self.out.extend_from_slice(&self.src[self.pos..]);
        self.pos = self.src.len();
    }
}

/// Whether two tokens would run into one without a space between them.
fn needs_space(prev: u8, next: u8) -> bool {
    if is_word(prev) && is_word(next) {
        return true;
    }
    // `a + +b`, `a - -b`, and a `/` next to another (a comment would start).
    matches!((prev, next), (b'+', b'+') | (b'-', b'-') | (b'/', b'/' | b'*'))
        // A number's dot: `1 .toString()`.
        || (prev.is_ascii_digit() && next == b'.')
        // Anything else with a space was written with one: `a / b` stays.
        || (prev == b'/' || next == b'/')
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn comments_and_indentation_go() {
        let src = "/*! banner */\n(() => {\n  // a note\n  const a = 1; /* inline */ const b = 2;\n  return a + b;\n})();\n";
        assert_eq!(compact(src), "(()=>{const a=1;const b=2;return a+b;})();");
    }

    #[test]
    fn strings_templates_and_regexes_are_kept() {
        let src = "const s = '// not a comment';\nconst t = `a ${ {x: 1}.x } /* kept */ ${`b`}`;\nconst r = /\\/\\/[/*]/g;\nconst d = a / b / c;\nx = y\n+ +z\n";
        assert_eq!(
            compact(src),
            "const s='// not a comment';const t=`a ${{x:1}.x} /* kept */ ${`b`}`;const r= /\\/\\/[/*]/g;const d=a / b / c;x=y\n+ +z"
        );
    }

    #[test]
    fn line_breaks_that_may_end_a_statement_stay() {
        assert_eq!(compact("let a = b\nlet c = d\n"), "let a=b\nlet c=d");
        assert_eq!(compact("return\nvalue"), "return\nvalue");
        assert_eq!(compact("f(a,\n  b)"), "f(a,b)");
    }

    #[test]
    fn unterminated_input_is_copied_through() {
        assert_eq!(compact("a /* open"), "a/* open");
        assert_eq!(compact("'open"), "'open");
    }
}
