//! The structural check: a state machine over KDL v2's node grammar that
//! finds the first token that cannot stand where it stands in any document
//! kdl accepts.
//!
//! kdl 6.7 recovers from most syntax errors by calling its document parser
//! again on what follows, so every error in a run of junk (`a = = = ...`,
//! `) ) ) ...`) costs a stack frame and the rest of the text is parsed again:
//! a large file of junk overflows the stack or takes minutes and gigabytes. A
//! file with a finding here never reaches kdl, and kdl only ever sees files
//! whose tokens all stand where its grammar has a place for them.
//!
//! kdl's parser (`v2_parser.rs`) is the judge, not the KDL specification:
//! where kdl is more lenient (after the children of a commented-out node, or
//! after a keyword, a node may follow with no terminator), so is this; where
//! it is stricter (no `;` after a commented-out node), so is this, as kdl
//! rejects those files anyway. It never rejects what kdl accepts: whenever
//! unsure, it accepts, and kdl reports.
//!
//! The grammar, with node-space (spaces, block comments, `\` line
//! continuations) allowed between any two tokens:
//!
//! ```text
//! nodes    := (line-space | node terminator)*        terminator := newline | line comment | `;`
//! node     := (`/-` line-space*)? type? name entry* children*
//! entry    := (`/-` line-space*)? (type? value | key `=` type? value)
//! type     := `(` name `)`
//! children := (`/-` line-space*)? `{` nodes `}`       at most one not commented out, and only
//!                                                     commented-out ones after it, no entries
//! ```
//!
//! A `;` only ends a node (never an empty one); a `}` ends the last node of
//! its block. A name, key or value is one token, followed by a space or a
//! token that ends it (`=`, `)`, `{`, `}`, a terminator); names and keys are
//! strings, values strings, numbers or keywords. Nesting is a stack of small
//! frames, never recursion; a `}` with no block open is left to the
//! unmatched-brace check.
//!
//! Each name and value token is also checked on its own, where kdl's recovery
//! would resume inside it and read the rest of it as KDL (an unclosed string,
//! a bad escape, `\u{zz}`, a newline in a one-line string) or would fail the
//! whole entry (`[x]`, `.5`, `#truex`, a number past 128 bits): both make
//! kdl recurse just as junk does.

use std::ops::Range;

use stack_diagnostics::{Diagnostic, FileId, Span};

use crate::lexer::{Token, TokenKind, is_newline, is_unicode_space, newline_len};

#[derive(Debug, Default)]
pub(super) struct Structure {
    state: State,
    /// The children blocks open around the current node, innermost last.
    blocks: Vec<Block>,
    /// A `\` whose line has not ended yet.
    continuation: Option<Token>,
    /// The name or value token just read, while no other token has followed it.
    word: Option<(Token, Word)>,
    /// The `/-` of a commented-out node that follows a node with no
    /// terminator between them (`a { } /-b`), in the current block: kdl takes
    /// it as the end of the block, so only more commented-out nodes may come.
    trailing: Option<Token>,
    /// Set by a `}` with no block open, which the unmatched-brace check reports.
    stopped: bool,
}

#[derive(Debug, Clone, Copy, Default)]
enum State {
    /// Between nodes: at the start of the document or of a block, or after a terminator.
    #[default]
    Nodes,
    /// After a node's name or one of its entries.
    Node { commented_out: bool, last: Last },
    /// After a children block of a node, commented out or not.
    AfterChildren { commented_out: bool, children: bool },
    /// After a `/-`, before what it comments out.
    Slashdash { slashdash: Token, place: Place },
    /// Inside or right after a type annotation.
    Type {
        open: Token,
        part: TypePart,
        target: Target,
    },
    /// After a property's `=`.
    Equals { equals: Token, commented_out: bool },
}

/// What a node's last token was, for the `=` that may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Name,
    /// An argument that is a string without a type annotation: maybe a property's key.
    Key,
    /// A number or a keyword.
    Literal,
    TypedValue,
    PropertyValue,
}

/// Where a `/-` stands.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// Where a node may start.
    Node,
    /// Among a node's entries.
    Entry { commented_out: bool },
    /// After a node's children block.
    AfterChildren { commented_out: bool, children: bool },
    /// Right after a keyword, with no space: kdl ends the node there
    /// (`a #true/-b` is a node `a` and a commented-out node `b`).
    AfterKeyword { commented_out: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypePart {
    /// After `(`.
    Open,
    /// After `(name`.
    Name,
    /// After `(name)`.
    Closed,
}

/// What a type annotation applies to.
#[derive(Debug, Clone, Copy)]
enum Target {
    Node { commented_out: bool },
    Argument { commented_out: bool },
    PropertyValue { commented_out: bool },
}

/// An open children block.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// The node it belongs to is commented out.
    node_commented_out: bool,
    /// The node had a children block before this one, not commented out.
    node_had_children: bool,
    /// This block is commented out.
    commented_out: bool,
    /// [`Structure::trailing`] of the block around this one.
    outer_trailing: Option<Token>,
}

/// What a name or value token is to kdl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    /// An identifier or a quoted, raw or multi-line string: a name, a key or a value.
    String,
    /// A number: only a value.
    Number,
    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan`: only a value.
    Keyword,
}

impl Word {
    fn is_string(self) -> bool {
        self == Word::String
    }
}

/// A structural finding: the token, what is wrong there, what to write instead.
#[derive(Debug)]
pub(super) struct Problem {
    /// `None` at the end of the file.
    token: Option<Token>,
    /// The message, when not "unexpected" and the token.
    message: Option<&'static str>,
    label: &'static str,
    help: &'static str,
    /// Where the problem comes from, when that is not the token reported.
    context: Option<(Token, &'static str)>,
}

const HELP_NODE_NAME: &str = "a node's name is a string: an identifier such as `service`, or a quoted string; quote a name that reads as a number or keyword: `\"1\"`";
const HELP_SEMICOLON: &str = "a `;` ends the node before it on the same line: remove this one";
const HELP_SEMICOLON_AFTER_SLASHDASH: &str = "kdl, the KDL parser of stack, takes no `;` after a node commented out with `/-`: end the line there instead";
const HELP_CHILDREN_WITHOUT_NODE: &str =
    "a children block comes after its node's name and entries, on the same line: `name arg { ... }`";
const HELP_PROPERTY: &str = "a property is written `key=value` after its node's name, on the node's line";
const HELP_NAME_IS_NOT_A_KEY: &str =
    "a node's name cannot be a property key: write the property after the name, `name key=value`";
const HELP_TYPED_KEY: &str =
    "a property's key cannot have a type annotation: annotate its value instead, `key=(type)value`";
const HELP_LITERAL_KEY: &str =
    "a property's key is a string, not a number or keyword: quote it, `\"1\"=value`";
const HELP_ONE_EQUALS: &str = "a property is written `key=value`, with one `=`: quote a value that holds `=`";
const HELP_VALUE_AFTER_EQUALS: &str =
    "a property is written `key=value`, with its value on the same line as the `=`";
const HELP_TYPE: &str = "a type annotation is `(name)`, right before the node name or value it applies to";
const HELP_AFTER_TYPE: &str = "a type annotation comes right before the node name or value it applies to, on the same line: `(type)value`";
const HELP_AFTER_CHILDREN: &str = "a node's arguments and properties come before its children block; to start another node, end this one with a newline or `;` first";
const HELP_SECOND_CHILDREN: &str =
    "a node has one children block: merge the two, or comment one out with `/-`";
const HELP_TRAILING: &str = "kdl reads a `/-` node that follows another node on its line as the last node of its block: put a newline or `;` before the `/-`";
const HELP_SLASHDASH: &str = "`/-` comments out the node, entry or children block right after it: remove the `/-`, or put what it should comment out after it";
const HELP_CONTINUATION: &str =
    "a `\\` continues the node on the next line: only spaces or a comment may follow it on its line";
const HELP_CLOSE_BRACE: &str = "a `}` closes a children block: what comes before it is not finished";
const HELP_SPACE: &str = "separate names and values with a space; quote a value that holds these characters";
const HELP_CHARACTERS: &str = "names and values cannot hold `[`, `]`, `/` or `#` unless quoted: `\"a/b\"`";
const HELP_DISALLOWED: &str = "KDL does not allow this invisible control or direction character anywhere: remove it, or write it as an escape in a quoted string, `\\u{200E}`";
const HELP_KEYWORD: &str = "the keywords are #true, #false, #null, #inf, #-inf and #nan; quote a string that starts with `#`: `\"#x\"`";
const HELP_BARE_KEYWORD: &str = "KDL v2 writes keywords with a `#`: #true, #false, #null, #inf, #nan; quote it to mean the string: `\"true\"`";
const HELP_LEADING_DOT: &str = "a number starts with a digit: write `0.5`, not `.5`";
const HELP_NUMBER_TOO_LARGE: &str = "kdl reads numbers whose integer part fits in 128 bits (up to 170141183460469231731687303715884105727): quote larger ones";
const HELP_UNCLOSED: &str = "close the string with the quotes it was opened with";
const HELP_ESCAPE: &str = "the escapes are \\n, \\r, \\t, \\s, \\b, \\f, \\\\, \\\", \\u{hex} and `\\` before spaces and newlines; in a raw string, #\"...\"#, a `\\` is just a `\\`";
const HELP_ONE_LINE: &str = "a string with `\"` or `#\"` stays on one line: write several lines as a multi-line string, `\"\"\"` newline ... newline `\"\"\"`, or as escapes, `\\n`";
const HELP_MULTI_LINE_OPENING: &str = "the `\"\"\"` of a multi-line string ends its line: start the text on the next line, or write a one-line string with one `\"`";
const HELP_MULTI_LINE_LAYOUT: &str = "the closing `\"\"\"` of a multi-line string stands on its own line, and every other line starts with the same indentation as it, or is blank";
const HELP_RAW_QUOTE: &str = "a raw string cannot hold just `\"`: write it as `\"\\\"\"`";

impl Structure {
    /// Reads one token of `text`.
    pub(super) fn step(&mut self, text: &str, token: Token) -> Option<Problem> {
        if self.stopped {
            return None;
        }
        if token.kind.is_comment()
            && let Some(character) = disallowed_in(text, token)
        {
            return Some(DISALLOWED_IN_COMMENT.at(character));
        }
        if let Some((word, kind)) = self.word.take() {
            match token.kind {
                TokenKind::Whitespace
                | TokenKind::BlockComment
                | TokenKind::LineContinuation
                | TokenKind::Newline
                | TokenKind::LineComment
                | TokenKind::Semicolon
                | TokenKind::Equals
                | TokenKind::CloseParen
                | TokenKind::OpenBrace
                | TokenKind::CloseBrace => {}
                // kdl checks what follows every value but a keyword: the
                // node ends right after it, and a commented-out node may
                // follow, or any node after a commented-out one.
                TokenKind::Slashdash if kind == Word::Keyword => {
                    if let State::Node { commented_out, .. } = self.state {
                        self.state = State::Slashdash {
                            slashdash: token,
                            place: Place::AfterKeyword { commented_out },
                        };
                        return None;
                    }
                }
                TokenKind::OpenParen
                | TokenKind::String
                | TokenKind::MultiLineString
                | TokenKind::RawString
                | TokenKind::MultiLineRawString
                    if kind == Word::Keyword
                        && matches!(
                            self.state,
                            State::Node {
                                commented_out: true,
                                ..
                            }
                        ) =>
                {
                    self.state = State::AfterChildren {
                        commented_out: true,
                        children: true,
                    };
                }
                _ => {
                    return Some(Problem {
                        token: Some(token),
                        message: None,
                        label: "right after a name or value, with no space between",
                        help: HELP_SPACE,
                        context: Some((word, "this one")),
                    });
                }
            }
        }
        if let Some(backslash) = self.continuation {
            match token.kind {
                TokenKind::Whitespace | TokenKind::BlockComment | TokenKind::LineComment => return None,
                TokenKind::Newline => {
                    self.continuation = None;
                    return None;
                }
                _ => {
                    return Some(Problem {
                        token: Some(token),
                        message: None,
                        label: "after a line continuation",
                        help: HELP_CONTINUATION,
                        context: Some((backslash, "the line continues here")),
                    });
                }
            }
        }
        match token.kind {
            TokenKind::Whitespace | TokenKind::BlockComment => None,
            TokenKind::LineContinuation => {
                self.continuation = Some(token);
                None
            }
            TokenKind::Newline | TokenKind::LineComment => self.end_of_line(token),
            TokenKind::Semicolon => self.semicolon(token),
            TokenKind::Slashdash => self.slashdash(token),
            TokenKind::OpenParen => self.open_paren(token),
            TokenKind::CloseParen => self.close_paren(token),
            TokenKind::Equals => self.equals(token),
            TokenKind::OpenBrace => self.open_brace(token),
            TokenKind::CloseBrace => self.close_brace(token),
            TokenKind::Atom
            | TokenKind::String
            | TokenKind::MultiLineString
            | TokenKind::RawString
            | TokenKind::MultiLineRawString => self.word(text, token),
        }
    }

    /// The end of the text: what is still waiting for its end.
    pub(super) fn finish(&self) -> Option<Problem> {
        if self.stopped {
            return None;
        }
        let (at, label, help) = match self.state {
            State::Slashdash { slashdash, .. } => {
                (slashdash, "nothing after it to comment out", HELP_SLASHDASH)
            }
            State::Type { open, part, .. } => {
                let help = if part == TypePart::Closed {
                    HELP_AFTER_TYPE
                } else {
                    HELP_TYPE
                };
                (open, "this type annotation is not finished", help)
            }
            State::Equals { equals, .. } => (equals, "no value after it", HELP_VALUE_AFTER_EQUALS),
            State::Nodes | State::Node { .. } | State::AfterChildren { .. } => return None,
        };
        Some(Problem {
            token: None,
            message: None,
            label: "the file ends here",
            help,
            context: Some((at, label)),
        })
    }

    fn end_of_line(&mut self, token: Token) -> Option<Problem> {
        match self.state {
            State::Nodes | State::Slashdash { .. } => None,
            State::Node { .. } | State::AfterChildren { .. } => {
                self.state = State::Nodes;
                None
            }
            State::Type { .. } | State::Equals { .. } => self.misplaced(token),
        }
    }

    fn semicolon(&mut self, token: Token) -> Option<Problem> {
        match self.state {
            // kdl, unlike the KDL specification, ends a commented-out node
            // without a terminator, and takes no `;` after it.
            State::Node {
                commented_out: true, ..
            }
            | State::AfterChildren {
                commented_out: true, ..
            } => problem(
                token,
                "after a node commented out with `/-`",
                HELP_SEMICOLON_AFTER_SLASHDASH,
            ),
            State::Node { .. } | State::AfterChildren { .. } => {
                self.state = State::Nodes;
                None
            }
            State::Nodes => problem(token, "no node before it to end", HELP_SEMICOLON),
            _ => self.misplaced(token),
        }
    }

    fn slashdash(&mut self, slashdash: Token) -> Option<Problem> {
        let place = match self.state {
            State::Nodes => Place::Node,
            State::Node { commented_out, .. } => Place::Entry { commented_out },
            State::AfterChildren {
                commented_out,
                children,
            } => Place::AfterChildren {
                commented_out,
                children,
            },
            // A chained `/-` is reported by its own check, before this one.
            State::Slashdash { .. } => {
                self.stopped = true;
                return None;
            }
            State::Type { .. } | State::Equals { .. } => return self.misplaced(slashdash),
        };
        self.state = State::Slashdash { slashdash, place };
        None
    }

    fn open_paren(&mut self, open: Token) -> Option<Problem> {
        let target = match self.node_start(open) {
            Err(problem) => return Some(problem),
            Ok(Some(commented_out)) => Target::Node { commented_out },
            Ok(None) => match self.state {
                State::Node { commented_out, .. }
                | State::Slashdash {
                    place: Place::Entry { commented_out },
                    ..
                } => Target::Argument { commented_out },
                State::Equals { commented_out, .. } => Target::PropertyValue { commented_out },
                _ => return self.misplaced(open),
            },
        };
        self.state = State::Type {
            open,
            part: TypePart::Open,
            target,
        };
        None
    }

    fn close_paren(&mut self, token: Token) -> Option<Problem> {
        match self.state {
            State::Type {
                open,
                part: TypePart::Name,
                target,
            } => {
                self.state = State::Type {
                    open,
                    part: TypePart::Closed,
                    target,
                };
                None
            }
            State::Nodes | State::Node { .. } | State::AfterChildren { .. } => {
                problem(token, "no `(` before it to close", HELP_TYPE)
            }
            _ => self.misplaced(token),
        }
    }

    fn equals(&mut self, token: Token) -> Option<Problem> {
        match self.state {
            State::Node {
                commented_out,
                last: Last::Key,
            } => {
                self.state = State::Equals {
                    equals: token,
                    commented_out,
                };
                None
            }
            State::Node { last, .. } => {
                let help = match last {
                    Last::Name => HELP_NAME_IS_NOT_A_KEY,
                    Last::TypedValue => HELP_TYPED_KEY,
                    Last::Literal => HELP_LITERAL_KEY,
                    Last::Key | Last::PropertyValue => HELP_ONE_EQUALS,
                };
                problem(token, "no property key before it", help)
            }
            State::Nodes => problem(token, "no node name before it", HELP_PROPERTY),
            _ => self.misplaced(token),
        }
    }

    fn open_brace(&mut self, token: Token) -> Option<Problem> {
        let (node_commented_out, node_had_children, commented_out) = match self.state {
            State::Node { commented_out, .. }
            | State::AfterChildren {
                commented_out,
                children: false,
            } => (commented_out, false, false),
            State::Slashdash {
                place: Place::Entry { commented_out },
                ..
            } => (commented_out, false, true),
            State::Slashdash {
                place:
                    Place::AfterChildren {
                        commented_out,
                        children,
                    },
                ..
            } => (commented_out, children, true),
            State::AfterChildren { children: true, .. } => {
                return problem(token, "a second children block", HELP_SECOND_CHILDREN);
            }
            State::Nodes => {
                return problem(
                    token,
                    "a children block without a node",
                    HELP_CHILDREN_WITHOUT_NODE,
                );
            }
            _ => return self.misplaced(token),
        };
        self.blocks.push(Block {
            node_commented_out,
            node_had_children,
            commented_out,
            outer_trailing: self.trailing.take(),
        });
        self.state = State::Nodes;
        None
    }

    fn close_brace(&mut self, token: Token) -> Option<Problem> {
        match self.state {
            State::Nodes | State::Node { .. } | State::AfterChildren { .. } => {}
            _ => return self.misplaced(token),
        }
        let Some(block) = self.blocks.pop() else {
            // Reported by the unmatched-brace check, before this one.
            self.stopped = true;
            return None;
        };
        self.trailing = block.outer_trailing;
        self.state = State::AfterChildren {
            commented_out: block.node_commented_out,
            children: block.node_had_children || !block.commented_out,
        };
        None
    }

    /// A name or a value: an identifier, a number, a keyword, a string.
    fn word(&mut self, text: &str, token: Token) -> Option<Problem> {
        let written = token.text(text);
        // kdl reads `#truex` in a commented-out node as the value `#true`,
        // the end of the node, and a node `x`.
        if token.kind == TokenKind::Atom
            && self.at_value_of_commented_out_node()
            && let Some(keyword) = KEYWORDS
                .iter()
                .find(|keyword| written.len() > keyword.len() && written.starts_with(*keyword))
        {
            let split = token.start + keyword.len();
            let keyword = Token { end: split, ..token };
            let name = Token {
                start: split,
                ..token
            };
            if let Some(problem) = self.place_word(keyword, Word::Keyword) {
                return Some(problem);
            }
            self.state = State::AfterChildren {
                commented_out: true,
                children: true,
            };
            return match classify_atom(name.text(text)) {
                Ok(word) => self.place_word(name, word),
                Err(invalid) => Some(invalid.at(name)),
            };
        }
        let checked = if token.kind == TokenKind::Atom {
            classify_atom(written)
        } else {
            check_string(written, token.kind).map(|()| Word::String)
        };
        match checked {
            Ok(word) => self.place_word(token, word),
            Err(invalid) => Some(invalid.at(token)),
        }
    }

    /// Whether a value read now belongs to a commented-out node.
    fn at_value_of_commented_out_node(&self) -> bool {
        matches!(
            self.state,
            State::Node {
                commented_out: true,
                ..
            } | State::Slashdash {
                place: Place::Entry { commented_out: true },
                ..
            } | State::Equals {
                commented_out: true,
                ..
            } | State::Type {
                part: TypePart::Closed,
                target: Target::Argument { commented_out: true }
                    | Target::PropertyValue { commented_out: true },
                ..
            }
        )
    }

    /// A valid name or value token, where it stands.
    fn place_word(&mut self, token: Token, word: Word) -> Option<Problem> {
        let next = match self.node_start(token) {
            Err(problem) => return Some(problem),
            Ok(Some(commented_out)) => State::Node {
                commented_out,
                last: Last::Name,
            },
            Ok(None) => match self.state {
                State::Node { commented_out, .. }
                | State::Slashdash {
                    place: Place::Entry { commented_out },
                    ..
                } => State::Node {
                    commented_out,
                    last: if word.is_string() {
                        Last::Key
                    } else {
                        Last::Literal
                    },
                },
                State::Equals { commented_out, .. } => State::Node {
                    commented_out,
                    last: Last::PropertyValue,
                },
                State::Type {
                    open,
                    part: TypePart::Open,
                    target,
                } => State::Type {
                    open,
                    part: TypePart::Name,
                    target,
                },
                State::Type {
                    part: TypePart::Closed,
                    target,
                    ..
                } => match target {
                    Target::Node { commented_out } => State::Node {
                        commented_out,
                        last: Last::Name,
                    },
                    Target::Argument { commented_out } => State::Node {
                        commented_out,
                        last: Last::TypedValue,
                    },
                    Target::PropertyValue { commented_out } => State::Node {
                        commented_out,
                        last: Last::PropertyValue,
                    },
                },
                State::Type {
                    part: TypePart::Name, ..
                } => return problem(token, "a second name in the type annotation", HELP_TYPE),
                _ => return self.misplaced(token),
            },
        };
        // Names, keys and type names are strings.
        let is_name = matches!(
            next,
            State::Node { last: Last::Name, .. }
                | State::Type {
                    part: TypePart::Name,
                    ..
                }
        );
        if is_name && !word.is_string() {
            let (label, help) = if matches!(next, State::Type { .. }) {
                ("not a type name", HELP_TYPE)
            } else {
                ("not a node name", HELP_NODE_NAME)
            };
            return problem(token, label, help);
        }
        self.state = next;
        self.word = Some((token, word));
        None
    }

    /// Whether a node starts at `token`, its type annotation or name, and if
    /// so whether it is commented out; a problem when no node may start here
    /// after all.
    fn node_start(&mut self, token: Token) -> Result<Option<bool>, Problem> {
        match self.state {
            // kdl takes a node right after the children of a commented-out
            // node, with no terminator between them.
            State::Nodes
            | State::AfterChildren {
                commented_out: true, ..
            } => match self.trailing {
                Some(slashdash) => Err(Problem {
                    token: Some(token),
                    message: None,
                    label: "a node after the last node of its block",
                    help: HELP_TRAILING,
                    context: Some((
                        slashdash,
                        "kdl takes this commented-out node as the end of the block",
                    )),
                }),
                None => Ok(Some(false)),
            },
            State::Slashdash {
                slashdash,
                place:
                    Place::AfterChildren {
                        commented_out: false, ..
                    }
                    | Place::AfterKeyword { commented_out: false },
            } => {
                self.trailing.get_or_insert(slashdash);
                Ok(Some(true))
            }
            State::Slashdash {
                place: Place::Node | Place::AfterChildren { .. } | Place::AfterKeyword { .. },
                ..
            } => Ok(Some(true)),
            _ => Ok(None),
        }
    }

    /// A token that has no place in the current state, described by the state.
    fn misplaced(&self, token: Token) -> Option<Problem> {
        let (label, help, context) = match self.state {
            State::Slashdash { slashdash, .. } => (
                "not something `/-` can comment out",
                HELP_SLASHDASH,
                Some((slashdash, "this `/-`")),
            ),
            State::Type { open, part, target } => {
                let (label, help) = match (part, token.kind) {
                    (_, TokenKind::CloseBrace) => ("the type annotation is not finished", HELP_CLOSE_BRACE),
                    (TypePart::Open, TokenKind::CloseParen) => ("the type annotation has no name", HELP_TYPE),
                    (TypePart::Open, _) => ("not a type name", HELP_TYPE),
                    (TypePart::Name, _) => ("expected `)`", HELP_TYPE),
                    (TypePart::Closed, _) => match target {
                        Target::Node { .. } => ("expected the node's name", HELP_AFTER_TYPE),
                        _ => ("expected the value", HELP_AFTER_TYPE),
                    },
                };
                (label, help, Some((open, "this type annotation")))
            }
            State::Equals { equals, .. } => (
                "not a value",
                HELP_VALUE_AFTER_EQUALS,
                Some((equals, "this property has no value")),
            ),
            State::AfterChildren { .. } => ("after the children block", HELP_AFTER_CHILDREN, None),
            State::Nodes | State::Node { .. } => ("not part of a node", HELP_NODE_NAME, None),
        };
        Some(Problem {
            token: Some(token),
            message: None,
            label,
            help,
            context,
        })
    }
}

fn problem(token: Token, label: &'static str, help: &'static str) -> Option<Problem> {
    Some(Problem {
        token: Some(token),
        message: None,
        label,
        help,
        context: None,
    })
}

/// The longest token text quoted in a message.
const QUOTED_TOKEN_CHARS: usize = 24;

impl Problem {
    pub(super) fn diagnostic(&self, file: FileId, text: &str) -> Diagnostic {
        let (message, range) = match self.token {
            Some(token) => {
                let (what, range) = describe(text, token);
                let message = self
                    .message
                    .map_or_else(|| format!("unexpected {what}"), str::to_owned);
                (message, range)
            }
            None => ("unexpected end of file".to_owned(), text.len()..text.len()),
        };
        let mut diagnostic =
            Diagnostic::error("stack::syntax", message).primary(Span::new(file, range), self.label);
        if let Some((at, label)) = self.context {
            diagnostic = diagnostic.secondary(Span::new(file, at.range()), label);
        }
        diagnostic.help(self.help)
    }
}

/// How a message names a token, and the range to point at: never more than
/// its first line.
fn describe(text: &str, token: Token) -> (String, Range<usize>) {
    let written = token.text(text);
    let first_line = written.find(is_newline).unwrap_or(written.len());
    let range = token.start..token.start + first_line;
    let what = match token.kind {
        TokenKind::Newline | TokenKind::LineComment => {
            return ("end of line".to_owned(), token.start..token.start);
        }
        TokenKind::String
        | TokenKind::MultiLineString
        | TokenKind::RawString
        | TokenKind::MultiLineRawString => "string".to_owned(),
        TokenKind::Atom if written.chars().nth(QUOTED_TOKEN_CHARS).is_some() => {
            let shown: String = written.chars().take(QUOTED_TOKEN_CHARS).collect();
            format!("`{shown}...`")
        }
        _ => format!("`{written}`"),
    };
    (what, range)
}

/// Why kdl rejects a name or value token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Invalid {
    message: &'static str,
    label: &'static str,
    help: &'static str,
}

const fn invalid(message: &'static str, label: &'static str, help: &'static str) -> Invalid {
    Invalid { message, label, help }
}

impl Invalid {
    fn at(self, token: Token) -> Problem {
        Problem {
            token: Some(token),
            message: Some(self.message),
            label: self.label,
            help: self.help,
            context: None,
        }
    }
}

const KEYWORDS: [&str; 6] = ["#true", "#false", "#null", "#inf", "#-inf", "#nan"];

/// What an atom is to kdl, or why kdl reads it as nothing at all. Each
/// rejection is certain: none of kdl's identifier, number or keyword rules
/// takes the atom. Numbers are not checked further (`1x`, `0b2`): kdl
/// reports those and moves on to the next token without trouble.
fn classify_atom(atom: &str) -> Result<Word, Invalid> {
    if atom.chars().any(is_disallowed) {
        return Err(invalid(
            "invalid character",
            "a character KDL does not allow",
            HELP_DISALLOWED,
        ));
    }
    if atom.starts_with('#') {
        return if KEYWORDS.contains(&atom) {
            Ok(Word::Keyword)
        } else {
            Err(invalid("invalid keyword", "not a keyword", HELP_KEYWORD))
        };
    }
    if atom.contains(['[', ']', '/', '#']) {
        return Err(invalid(
            "invalid name or value",
            "holds a character only a quoted string may hold",
            HELP_CHARACTERS,
        ));
    }
    if matches!(atom, "true" | "false" | "null" | "inf" | "nan") {
        return Err(invalid(
            "invalid name or value",
            "a keyword without its `#`",
            HELP_BARE_KEYWORD,
        ));
    }
    let unsigned = atom.strip_prefix(['+', '-']).unwrap_or(atom);
    let mut chars = unsigned.chars();
    match (chars.next(), chars.next()) {
        (Some('.'), Some(digit)) if digit.is_ascii_digit() => Err(invalid(
            "invalid number",
            "a number starts with a digit",
            HELP_LEADING_DOT,
        )),
        (Some(digit), _) if digit.is_ascii_digit() => {
            if integer_part_fits(unsigned) {
                Ok(Word::Number)
            } else {
                Err(invalid("invalid number", "too large", HELP_NUMBER_TOO_LARGE))
            }
        }
        _ => Ok(Word::String),
    }
}

/// Whether the leading digits of a number (`_` aside) fit in an `i128`: kdl
/// reads them so, and reads nothing when they do not.
fn integer_part_fits(unsigned: &str) -> bool {
    let mut value: u128 = 0;
    for c in unsigned.chars().take_while(|&c| c.is_ascii_digit() || c == '_') {
        let Some(digit) = c.to_digit(10) else { continue };
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(digit)))
        {
            Some(next) => value = next,
            None => return false,
        }
    }
    value <= i128::MAX as u128
}

/// The code points KDL v2 disallows anywhere in a document (a byte order mark only at its
/// start, which the reader strips). kdl accepts U+007F; the specification does not.
fn is_disallowed(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{E}'..='\u{1F}'
            | '\u{7F}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

const DISALLOWED_IN_COMMENT: Invalid = invalid(
    "invalid character",
    "a character KDL does not allow, even in a comment",
    HELP_DISALLOWED,
);

/// The first disallowed character of a token, as a token of its own: kdl accepts them in
/// comments, the KDL v2 specification does not.
fn disallowed_in(text: &str, token: Token) -> Option<Token> {
    let (offset, c) = token.text(text).char_indices().find(|&(_, c)| is_disallowed(c))?;
    let start = token.start + offset;
    Some(Token {
        kind: TokenKind::Atom,
        start,
        end: start + c.len_utf8(),
    })
}

const UNCLOSED: Invalid = invalid("invalid string", "this string is not closed", HELP_UNCLOSED);
const DISALLOWED_IN_STRING: Invalid = invalid(
    "invalid string",
    "holds a character KDL does not allow",
    HELP_DISALLOWED,
);

/// Whether kdl reads a string token as the same one string, checked as kdl
/// does: where it rejects a string, its recovery resumes inside it. Every
/// rejection is certain; where kdl's rules get intricate (the indentation of
/// a multi-line string that holds a `\`), this accepts and leaves kdl to judge.
fn check_string(written: &str, kind: TokenKind) -> Result<(), Invalid> {
    match kind {
        TokenKind::String => quoted_body(&written[1..], false).map(|_| ()),
        TokenKind::MultiLineString => {
            let after_quotes = &written[3..];
            let newline = newline_len(after_quotes);
            if newline == 0 {
                return Err(invalid(
                    "invalid string",
                    "`\"\"\"` must end its line",
                    HELP_MULTI_LINE_OPENING,
                ));
            }
            let lines = &after_quotes[newline..];
            quoted_body(lines, true)?;
            multi_line_layout(lines, "\"\"\"", false)
        }
        TokenKind::RawString => {
            let hashes = written.bytes().take_while(|&b| b == b'#').count();
            let body = raw_body(written, hashes, 1)?;
            if body.contains(is_newline) {
                Err(invalid(
                    "invalid string",
                    "a newline in a one-line string",
                    HELP_ONE_LINE,
                ))
            } else if body.contains(is_disallowed) {
                Err(DISALLOWED_IN_STRING)
            } else if body == "\"" {
                Err(invalid(
                    "invalid string",
                    "looks like a multi-line raw string",
                    HELP_RAW_QUOTE,
                ))
            } else if body.starts_with("\"\"") {
                // kdl reads `#"""one line"""#` as a one-line raw string; KDL v2 does not.
                Err(invalid(
                    "invalid string",
                    "`#\"\"\"` opens a multi-line raw string, which must end its line",
                    HELP_MULTI_LINE_OPENING,
                ))
            } else {
                Ok(())
            }
        }
        TokenKind::MultiLineRawString => {
            let hashes = written.bytes().take_while(|&b| b == b'#').count();
            let body = raw_body(written, hashes, 3)?;
            // The lexer made it a multi-line string for the newline after `"""`.
            let opening = hashes + 3 + newline_len(body);
            multi_line_layout(&written[opening..], &written[written.len() - hashes - 3..], true)
        }
        _ => Ok(()),
    }
}

/// The body of a quoted string from `rest`, what follows its opening quotes
/// (and newline, for a multi-line one), up to its closing quotes, which the
/// lexer made the end of the token.
fn quoted_body(rest: &str, multi_line: bool) -> Result<&str, Invalid> {
    let mut chars = rest.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' if !multi_line || rest[index..].starts_with("\"\"\"") => return Ok(&rest[..index]),
            '\\' => match chars.next() {
                None => return Err(UNCLOSED),
                // A whitespace escape: `\` and all the spaces and newlines after it.
                Some((_, escaped)) if is_unicode_space(escaped) || is_newline(escaped) => {
                    while chars
                        .next_if(|&(_, c)| is_unicode_space(c) || is_newline(c))
                        .is_some()
                    {}
                }
                Some((_, '\\' | '"' | 'b' | 'f' | 'n' | 'r' | 't' | 's')) => {}
                Some((_, 'u')) => {
                    let mut hex = String::new();
                    let opened = chars.next_if(|&(_, c)| c == '{').is_some();
                    while hex.len() < 6
                        && let Some((_, digit)) = chars.next_if(|&(_, c)| c.is_ascii_hexdigit())
                    {
                        hex.push(digit);
                    }
                    let closed = chars.next_if(|&(_, c)| c == '}').is_some();
                    let scalar = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    if !opened || !closed || scalar.is_none() {
                        return Err(invalid(
                            "invalid string",
                            "not a unicode escape: `\\u{` and 1 to 6 hex digits of a character, then `}`",
                            HELP_ESCAPE,
                        ));
                    }
                }
                Some(_) => return Err(invalid("invalid string", "an unknown escape", HELP_ESCAPE)),
            },
            c if is_newline(c) && !multi_line => {
                return Err(invalid(
                    "invalid string",
                    "a newline in a one-line string",
                    HELP_ONE_LINE,
                ));
            }
            c if is_disallowed(c) => return Err(DISALLOWED_IN_STRING),
            _ => {}
        }
    }
    Err(UNCLOSED)
}

/// The body of a raw string with `hashes` `#` and `quotes` `"` on each side.
fn raw_body(written: &str, hashes: usize, quotes: usize) -> Result<&str, Invalid> {
    let open = hashes + quotes;
    let bytes = written.as_bytes();
    let closed = bytes.len() >= 2 * open
        && bytes[bytes.len() - open..]
            .iter()
            .enumerate()
            .all(|(index, &b)| b == if index < quotes { b'"' } else { b'#' });
    if closed {
        Ok(&written[open..written.len() - open])
    } else {
        Err(UNCLOSED)
    }
}

/// Whether kdl reads the lines of a multi-line string as the lexer does:
/// `lines` runs from after the newline that follows the opening quotes to
/// the end of the token, the `closing` quotes included.
///
/// This follows kdl's two passes to the letter, `\` escapes and all (an
/// escaped newline joins two lines, and counts as blank space around the
/// closing quotes). The first finds the indentation, the spaces before the
/// closing quotes at the start of a line; the second reads every line with it:
/// each starts with the indentation or is blank, up to the closing quotes.
/// kdl's recovery from an error in either resumes inside the string.
fn multi_line_layout(lines: &str, closing: &str, raw: bool) -> Result<(), Invalid> {
    let text = Text {
        text: lines,
        raw,
        closing,
    };
    match text
        .indentation()
        .and_then(|indentation| text.read_lines(indentation))
    {
        Some(end) if end == lines.len() - closing.len() => Ok(()),
        _ => Err(invalid(
            "invalid string",
            "its lines do not line up with its closing quotes",
            HELP_MULTI_LINE_LAYOUT,
        )),
    }
}

/// The lines of a multi-line string, read as kdl reads them; positions are
/// byte offsets into `text`.
struct Text<'a> {
    text: &'a str,
    raw: bool,
    /// `"""`, and the `#` of a raw string.
    closing: &'a str,
}

impl<'a> Text<'a> {
    fn rest(&self, at: usize) -> &'a str {
        self.text.get(at..).unwrap_or("")
    }

    fn space(&self, at: usize) -> Option<usize> {
        let c = self.rest(at).chars().next().filter(|&c| is_unicode_space(c))?;
        Some(at + c.len_utf8())
    }

    fn newline(&self, at: usize) -> Option<usize> {
        Some(newline_len(self.rest(at)))
            .filter(|&len| len > 0)
            .map(|len| at + len)
    }

    /// `\` and the spaces and newlines after it, all of them.
    fn whitespace_escape(&self, at: usize) -> Option<usize> {
        let rest = self.rest(at).strip_prefix('\\')?;
        let len = rest
            .find(|c: char| !is_unicode_space(c) && !is_newline(c))
            .unwrap_or(rest.len());
        (len > 0).then_some(at + 1 + len)
    }

    fn skip(&self, mut at: usize, step: impl Fn(usize) -> Option<usize>) -> usize {
        while let Some(next) = step(at) {
            at = next;
        }
        at
    }

    /// kdl's blank line: spaces and escaped whitespace, then a newline (in a
    /// raw string too).
    fn blank_line(&self, at: usize) -> Option<usize> {
        let end = self.skip(at, |at| self.whitespace_escape(at).or_else(|| self.space(at)));
        self.newline(end)
    }

    /// One character, or escape, of a line.
    fn line_char(&self, at: usize) -> Option<usize> {
        let rest = self.rest(at);
        let c = rest.chars().next()?;
        if self.raw {
            return (!rest.starts_with(self.closing)).then_some(at + c.len_utf8());
        }
        match c {
            '\\' => self
                .whitespace_escape(at)
                .or_else(|| escape_len(rest).map(|len| at + len)),
            '"' => (!rest[1..].starts_with("\"\"")).then_some(at + 1),
            c if is_disallowed(c) => None,
            c => Some(at + c.len_utf8()),
        }
    }

    /// The characters of a line up to, and with, its newline.
    fn line(&self, at: usize) -> Option<usize> {
        let mut at = at;
        loop {
            if let Some(end) = self.newline(at) {
                return Some(end);
            }
            at = self.line_char(at)?;
        }
    }

    /// The first pass: the spaces before the closing quotes, at the start of
    /// the first line where they follow only spaces (and escaped whitespace,
    /// in a quoted string).
    fn indentation(&self) -> Option<String> {
        let mut at = 0;
        loop {
            let mut indentation = String::new();
            let mut end = at;
            loop {
                if let Some(next) = self.whitespace_escape(end).filter(|_| !self.raw) {
                    end = next;
                } else if let Some(next) = self.space(end) {
                    indentation.push_str(&self.text[end..next]);
                    end = next;
                } else {
                    break;
                }
            }
            if self.rest(end).starts_with(self.closing) {
                return Some(indentation);
            }
            // A raw string's first pass reads its lines without escapes, and
            // stops at the characters KDL does not allow.
            at = if self.raw {
                let mut at = at;
                loop {
                    if let Some(end) = self.newline(at) {
                        break end;
                    }
                    let c = self.rest(at).chars().next().filter(|&c| !is_disallowed(c))?;
                    if self.rest(at).starts_with(self.closing) {
                        return None;
                    }
                    at += c.len_utf8();
                }
            } else {
                self.line(at)?
            };
        }
    }

    /// The second pass: every line starts with the indentation or is blank,
    /// up to the closing quotes, after the indentation and escaped whitespace
    /// (spaces, in a raw string). Returns where the closing quotes start.
    fn read_lines(&self, indentation: String) -> Option<usize> {
        let mut at = 0;
        loop {
            if let Some(after) = self
                .rest(at)
                .strip_prefix(indentation.as_str())
                .map(|_| at + indentation.len())
            {
                let end = if self.raw {
                    self.skip(after, |at| self.space(at))
                } else {
                    self.skip(after, |at| self.whitespace_escape(at))
                };
                if self.rest(end).starts_with(self.closing) {
                    return Some(end);
                }
            }
            if self.rest(at).starts_with(indentation.as_str()) {
                at += indentation.len();
            } else {
                self.blank_line(at)?;
            }
            at = match self.blank_line(at) {
                Some(end) => end,
                None => self.line(at)?,
            };
        }
    }
}

/// The length of the escape at the start of `rest` (a `\`), but escaped
/// whitespace: `\n`, `\u{1F600}`, ...
fn escape_len(rest: &str) -> Option<usize> {
    let escaped = rest.get(1..)?;
    match escaped.chars().next()? {
        '\\' | '"' | 'b' | 'f' | 'n' | 'r' | 't' | 's' => Some(2),
        'u' => {
            let hex = escaped.strip_prefix("u{")?;
            let digits = hex.bytes().take(6).take_while(u8::is_ascii_hexdigit).count();
            let scalar = u32::from_str_radix(&hex[..digits], 16)
                .ok()
                .and_then(char::from_u32);
            (digits > 0 && scalar.is_some() && hex[digits..].starts_with('}')).then_some(1 + 2 + digits + 1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use stack_diagnostics::{Diagnostic, Sources, Span};

    use crate::checks::{Findings, check};

    fn findings(text: &str) -> Findings {
        let file = Sources::new().add("stack.kdl", "stack.kdl", text);
        check(file, text)
    }

    fn kdl_accepts(text: &str) -> bool {
        kdl::KdlDocument::parse_v2(text).is_ok()
    }

    /// kdl accepts `text`, and no check finds anything in it.
    #[track_caller]
    fn assert_valid(text: &str) {
        assert!(kdl_accepts(text), "kdl rejects {text:?}: the test is wrong");
        let findings = findings(text);
        assert!(
            findings.diagnostics.is_empty() && !findings.unsafe_for_kdl,
            "{text:?}: {:#?}",
            findings.diagnostics
        );
    }

    /// kdl rejects `text`, and the structural check finds the one problem
    /// `message`, pointing at `at` (empty at a newline or the end of the file).
    #[track_caller]
    fn assert_rejected(text: &str, message: &str, at: &str) -> Diagnostic {
        assert!(!kdl_accepts(text), "kdl accepts {text:?}: the test is wrong");
        let findings = findings(text);
        assert!(findings.unsafe_for_kdl, "{text:?} may reach kdl");
        let [diagnostic] = findings.diagnostics.as_slice() else {
            panic!("{text:?}: {:#?}", findings.diagnostics);
        };
        assert_eq!(diagnostic.code, "stack::syntax", "{text:?}");
        assert_eq!(diagnostic.message, message, "{text:?}");
        let span = diagnostic.primary_span().map(Span::range);
        assert_eq!(span.and_then(|span| text.get(span)), Some(at), "{text:?}");
        assert!(diagnostic.help.is_some(), "{text:?}");
        diagnostic.clone()
    }

    #[test]
    fn properties_arguments_and_type_annotations() {
        for text in [
            "a b=c",
            "a b=c d \"e\"=f",
            "a (t)b",
            "(t)a",
            "( t ) a 1",
            "(\"quoted type\")a (#\"raw\"#)b",
            "a ( t )b",
            "a b=(t)c",
            "a b= (t) c",
            "a \"b\"=1",
            "a #\"raw\"#=1",
            "a ##\"r\"#aw\"##=1",
            "a b = c",
            "a b =\\\n    c",
            "a (\\\n  t)b",
            "a b/* c */=/* d */e",
            "a -=+ +.x=.y ..5=-inf",
        ] {
            assert_valid(text);
        }
    }

    #[test]
    fn numbers_keywords_and_identifiers() {
        assert_valid("a 0 -12 +7 1_000 3.14 -1.5e-3 1E10 0x1F 0xdead_beef -0x10 0o17 0b1010 1_ 1__2");
        assert_valid("a #true #false #null #inf #-inf #nan");
        assert_valid("a 170141183460469231731687303715884105727 -170141183460469231731687303715884105727");
        assert_valid("über-node a1 _ - + foo.bar -inf true1 nanx");
    }

    #[test]
    fn strings_of_every_kind() {
        for text in [
            "a \"\" \"x\\\"y\\\\\" \"\\n\\r\\t\\s\\b\\f\" \"\\u{1F600}\" \"\\u{0}\"",
            "a \"one \\\n     line\"",
            "a \"\\   \r\n   x\"",
            "a #\"a\"b\"# ##\"a\"#b\"## #\"\"# #\"\\d\"#",
            "a \"\"\"\n  x \"\" y\n\n  \\\"\"\"\n  \"\"\"",
            "a \"\"\"\n\t x\n\t \"\"\" b",
            "a \"\"\"\n  x \\\n  y\n  \"\"\"",
            "a #\"\"\"\n  \"\"\" inside\n  \"\"\"#",
            "\"\"\"\n  multi-line name\n  \"\"\" 1",
            "a \"\"\"\n  key\n  \"\"\"=1",
            "a \"\"\"\r\n  x\r\n  \"\"\"",
            "a \"\"\"\n\"\"\"",
        ] {
            assert_valid(text);
        }
    }

    #[test]
    fn slashdashes_before_nodes_entries_and_children() {
        for text in [
            "/-a b\n/-(t)c\nd",
            "/- a",
            "/-\n\n// c\na",
            "a /-b /-c=1 /-(t)d e",
            "a /-\n  b",
            "a /-{ x } { y } /-{ z }",
            "a /-{}{}",
            "a {}/-{}",
            "a /-\n{}",
            "a { b } /-{ c }",
            "x { /-a }",
            "a /-1 2 { x }",
        ] {
            assert_valid(text);
        }
    }

    #[test]
    fn terminators_blocks_and_continuations() {
        for text in [
            "a {}; b",
            "a; b;",
            "a {\n  b; c\n}\nd",
            "a{}",
            "a b{}",
            "a b=c{}",
            "x { a }",
            "x {a}",
            "a \\ // c\n  b",
            "a \\\n  b \\ /* c */\n  c",
            "\\\na",
            "a \\",
            "a // c",
            "a /* \n */ b",
            "a\r\nb\r\n",
            "a\u{85}b\u{2028}c",
            "\u{FEFF}a 1\n",
            "",
            "\n\n",
        ] {
            assert_valid(text);
        }
    }

    #[test]
    fn kdl_quirks_it_accepts() {
        // After a commented-out node's children, or after a keyword, kdl ends
        // the node there: another node may follow with no terminator.
        for text in [
            "/-a {} b",
            "/-a{}b",
            "/-a /-{} b",
            "/-a {} (t)b {}",
            "a {} /-b",
            "a {} /-b c { d }",
            "x { a {} /-b }",
            "a {} /-b /-c",
            "/-a {} /-b {} c",
            "a #true/-c",
            "a b=#null/-c d",
            // kdl checks nothing after a keyword: in a commented-out node, a
            // node may start right after it.
            "/-a #truea",
            "/-a #-infb c=1 { d }",
            "/-a #true\"x\"",
            "/-a #true(t)b",
            "/-a b=#nullc",
            "/-a (t)#falsec d",
            "/-a /-#nanb",
            "/-a #true##\"x\"## c",
            "/-a #true#\"x\"#",
        ] {
            assert_valid(text);
        }
    }

    #[test]
    fn runs_of_junk() {
        assert_rejected(&format!("a {}", "= ".repeat(1000)), "unexpected `=`", "=");
        assert_rejected(&"=".repeat(1000), "unexpected `=`", "=");
        assert_rejected(&") ".repeat(1000), "unexpected `)`", ")");
        assert_rejected(&"( ".repeat(1000), "unexpected `(`", "(");
        assert_rejected(&"{}".repeat(1000), "unexpected `{`", "{");
        assert_rejected(&";".repeat(1000), "unexpected `;`", ";");
    }

    #[test]
    fn misplaced_equals() {
        let diagnostic = assert_rejected("= 1", "unexpected `=`", "=");
        assert!(diagnostic.help.is_some_and(|help| help.contains("key=value")));
        assert_rejected("a =b", "unexpected `=`", "=");
        assert_rejected("a=b", "unexpected `=`", "=");
        assert_rejected("a b==c", "unexpected `=`", "=");
        assert_rejected("a b=c=d", "unexpected `=`", "=");
        assert_rejected("a (t)b=c", "unexpected `=`", "=");
        assert_rejected("a 1=2", "unexpected `=`", "=");
        assert_rejected("a #true=1", "unexpected `=`", "=");
        assert_rejected("a b=\nc", "unexpected end of line", "");
        assert_rejected("a b= // c\n1", "unexpected end of line", "");
        assert_rejected("a b=;", "unexpected `;`", ";");
        assert_rejected("x { a b=}", "unexpected `}`", "}");
        assert_rejected("a b=", "unexpected end of file", "");
    }

    #[test]
    fn misplaced_parentheses() {
        let diagnostic = assert_rejected(")", "unexpected `)`", ")");
        assert!(diagnostic.help.is_some_and(|help| help.contains("(name)")));
        assert_rejected("a b)", "unexpected `)`", ")");
        assert_rejected("a {} )", "unexpected `)`", ")");
        assert_rejected("a ()b", "unexpected `)`", ")");
        assert_rejected("a ((t))b", "unexpected `(`", "(");
        assert_rejected("a (t)(u)b", "unexpected `(`", "(");
        assert_rejected("a (t u)b", "unexpected `u`", "u");
        assert_rejected("a (t\n)b", "unexpected end of line", "");
        assert_rejected("(t)\na", "unexpected end of line", "");
        assert_rejected("a (t) {}", "unexpected `{`", "{");
        assert_rejected("a (t)", "unexpected end of file", "");
        assert_rejected("a (t", "unexpected end of file", "");
        assert_rejected("a {} (t)b", "unexpected `(`", "(");
        assert_rejected("(1)a", "unexpected `1`", "1");
        assert_rejected("a (t)/-b", "unexpected `/-`", "/-");
    }

    #[test]
    fn misplaced_braces() {
        let diagnostic = assert_rejected("{ a }", "unexpected `{`", "{");
        assert!(diagnostic.help.is_some_and(|help| help.contains("{ ... }")));
        assert_rejected("a\n{ b }", "unexpected `{`", "{");
        assert_rejected("a {} {}", "unexpected `{`", "{");
        assert_rejected("a { } /-{ } { }", "unexpected `{`", "{");
        assert_rejected("a {} b", "unexpected `b`", "b");
        assert_rejected("a {}b", "unexpected `b`", "b");
        assert_rejected("a /-{} b {}", "unexpected `b`", "b");
        assert_rejected("a {} b=c", "unexpected `b`", "b");
        assert_rejected("a {} \"b\"", "unexpected string", "\"b\"");
        assert_rejected("a #true/-{}", "unexpected `{`", "{");
    }

    #[test]
    fn misplaced_semicolons() {
        assert_rejected(";a", "unexpected `;`", ";");
        assert_rejected("a;;b", "unexpected `;`", ";");
        assert_rejected("a\n;", "unexpected `;`", ";");
        assert_rejected("a { ; }", "unexpected `;`", ";");
        assert_rejected("a /-;", "unexpected `;`", ";");
        // The KDL specification allows these; kdl does not.
        assert_rejected("/-a;", "unexpected `;`", ";");
        assert_rejected("/-a b {} ;", "unexpected `;`", ";");
        assert_rejected("x { /-a; }", "unexpected `;`", ";");
        assert_valid("a /-b;");
    }

    #[test]
    fn misplaced_slashdashes() {
        assert_rejected("/-", "unexpected end of file", "");
        assert_rejected("a /-", "unexpected end of file", "");
        assert_rejected("a {} /-", "unexpected end of file", "");
        assert_rejected("x { /- }", "unexpected `}`", "}");
        assert_rejected("a /-=", "unexpected `=`", "=");
        assert_rejected("/-{ a }", "unexpected `{`", "{");
        // kdl takes a `/-` node right after a children block as the last of its block.
        let diagnostic = assert_rejected("a {} /-b\nc", "unexpected `c`", "c");
        assert!(diagnostic.labels.iter().any(|label| !label.primary));
        assert_rejected("x {\n  a {} /-b {} c\n}", "unexpected `c`", "c");
        assert_rejected("a #true/-b\nc", "unexpected `c`", "c");
        assert_rejected("a {} /-b #truec", "unexpected `c`", "c");
    }

    #[test]
    fn misplaced_line_continuations() {
        let diagnostic = assert_rejected("a \\ b", "unexpected `b`", "b");
        assert!(diagnostic.labels.iter().any(|label| !label.primary));
        assert_rejected("a \\ \\\nb", "unexpected `\\`", "\\");
        assert_rejected("a \\ ;", "unexpected `;`", ";");
    }

    #[test]
    fn names_and_values_run_together() {
        assert_rejected("a b(t)c", "unexpected `(`", "(");
        assert_rejected("a(t)b", "unexpected `(`", "(");
        assert_rejected("a \"x\"\"y\"", "unexpected string", "\"y\"");
        assert_rejected("a \"x\"y", "unexpected `y`", "y");
        assert_rejected("a b\"c\"", "unexpected string", "\"c\"");
        assert_rejected("a b/-c", "unexpected `/-`", "/-");
        assert_rejected("a 1/-c", "unexpected `/-`", "/-");
        assert_rejected("a #true\"x\"", "unexpected string", "\"x\"");
    }

    #[test]
    fn names_that_are_not_strings() {
        assert_rejected("1 a", "unexpected `1`", "1");
        assert_rejected("#true a", "unexpected `#true`", "#true");
        assert_rejected("/-(t)-5", "unexpected `-5`", "-5");
        assert_rejected("/-a #true1", "unexpected `1`", "1");
        assert_rejected("/-a #true#false", "unexpected `#false`", "#false");
        assert_rejected("/-a #true[", "invalid name or value", "[");
    }

    #[test]
    fn atoms_kdl_reads_as_nothing() {
        assert_rejected("a [x]", "invalid name or value", "[x]");
        assert_rejected("a b/c", "invalid name or value", "b/c");
        assert_rejected("a b#c", "invalid name or value", "b#c");
        assert_rejected("a ##x", "invalid keyword", "##x");
        assert_rejected("a #x", "invalid keyword", "#x");
        assert_rejected("a #truex", "invalid keyword", "#truex");
        assert_rejected("a true", "invalid name or value", "true");
        assert_rejected("nan", "invalid name or value", "nan");
        assert_rejected("a .5", "invalid number", ".5");
        assert_rejected("a -.5", "invalid number", "-.5");
        assert_rejected(
            "a 170141183460469231731687303715884105728",
            "invalid number",
            "170141183460469231731687303715884105728",
        );
        assert_rejected(
            "a 9999999999999999999999999999999999999999.5",
            "invalid number",
            "9999999999999999999999999999999999999999.5",
        );
        assert_rejected("a \u{200E}", "invalid character", "\u{200E}");
        assert_rejected("a b\u{FEFF}", "invalid character", "b\u{FEFF}");
    }

    /// What the KDL v2 specification rejects although kdl accepts it: the specification's
    /// test suite has both (`unicode_delete_fail`, `multiline_raw_string_single_line_err_fail`).
    #[test]
    fn what_kdl_accepts_but_kdl_v2_forbids() {
        for (text, message, at) in [
            ("a \u{7F}", "invalid character", "\u{7F}"),
            ("a\u{7F} 1", "invalid character", "a\u{7F}"),
            ("a \"x\u{7F}\"", "invalid string", "\"x\u{7F}\""),
            ("a #\"x\u{7F}\"#", "invalid string", "#\"x\u{7F}\"#"),
            (
                "node #\"\"\"one line\"\"\"#",
                "invalid string",
                "#\"\"\"one line\"\"\"#",
            ),
            (
                "node ##\"\"\"one line\"\"\"##",
                "invalid string",
                "##\"\"\"one line\"\"\"##",
            ),
            ("node #\"\"\"\"#", "invalid string", "#\"\"\"\"#"),
        ] {
            assert!(kdl_accepts(text), "kdl rejects {text:?}: the test is wrong");
            let findings = findings(text);
            assert!(findings.unsafe_for_kdl, "{text:?} may reach kdl");
            let [diagnostic] = findings.diagnostics.as_slice() else {
                panic!("{text:?}: {:#?}", findings.diagnostics);
            };
            assert_eq!(
                (diagnostic.code, diagnostic.message.as_str()),
                ("stack::syntax", message)
            );
            let span = diagnostic.primary_span().map(Span::range);
            assert_eq!(span.and_then(|span| text.get(span)), Some(at), "{text:?}");
            assert!(diagnostic.help.is_some(), "{text:?}");
        }
        // Escaped, the same code point is fine, and a raw string may begin with one quote.
        assert!(findings("a \"x\\u{7F}\"").diagnostics.is_empty());
        assert!(findings("a #\"\"x\"#").diagnostics.is_empty());
    }

    /// Every code point KDL v2 disallows, wherever it is written: in a name, a value, a string
    /// of each kind, a comment, between nodes.
    #[test]
    fn every_disallowed_code_point_anywhere() {
        let disallowed = ('\u{0}'..='\u{8}')
            .chain('\u{E}'..='\u{1F}')
            .chain(['\u{7F}'])
            .chain('\u{200E}'..='\u{200F}')
            .chain('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{FEFF}']);
        for c in disallowed {
            for text in [
                format!("a{c}"),
                format!("a b{c}c"),
                format!("a \"{c}\""),
                format!("a #\"{c}\"#"),
                format!("a \"\"\"\n  {c}\n  \"\"\""),
                format!("a #\"\"\"\n  {c}\n  \"\"\"#"),
                format!("a // {c}\n"),
                format!("a /* {c} */ b"),
                format!("a\n{c}\nb"),
            ] {
                let file = Sources::new().add("stack.kdl", "stack.kdl", text.as_str());
                let parsed = crate::parse(file, &text);
                assert!(parsed.document.is_none(), "{text:?} is accepted");
                let spanned: Vec<&str> = parsed
                    .diagnostics
                    .iter()
                    .filter_map(|diagnostic| diagnostic.primary_span())
                    .filter_map(|span| text.get(span.range()))
                    .collect();
                // A multi-line string is pointed at by its opening quotes.
                assert!(
                    spanned
                        .iter()
                        .any(|spanned| spanned.contains(c) || spanned.contains("\"\"\"")),
                    "{text:?}: no span points at the character: {:#?}",
                    parsed.diagnostics
                );
            }
        }
    }

    #[test]
    fn strings_kdl_does_not_read_as_one() {
        assert_rejected("a \"x", "invalid string", "\"x");
        assert_rejected("a \"x\\\"", "invalid string", "\"x\\\"");
        assert_rejected("a \"x\ny\"", "invalid string", "\"x");
        assert_rejected("a \"x\\qy\"", "invalid string", "\"x\\qy\"");
        assert_rejected("a \"\\u{zz} = =\"", "invalid string", "\"\\u{zz} = =\"");
        assert_rejected("a \"\\u{D800}\"", "invalid string", "\"\\u{D800}\"");
        assert_rejected("a \"\\u{1234567}\"", "invalid string", "\"\\u{1234567}\"");
        assert_rejected("a \"\\u{}\"", "invalid string", "\"\\u{}\"");
        assert_rejected("a \"\\u0041\"", "invalid string", "\"\\u0041\"");
        assert_rejected("a \"\u{1}\"", "invalid string", "\"\u{1}\"");
        assert_rejected("a #\"x", "invalid string", "#\"x");
        assert_rejected("a #\"x\"", "invalid string", "#\"x\"");
        assert_rejected("a #\"x\ny\"#", "invalid string", "#\"x");
        assert_rejected("a #\"\u{202A}\"#", "invalid string", "#\"\u{202A}\"#");
        assert_rejected("a #\"\"\"#", "invalid string", "#\"\"\"#");
        assert_rejected("a \"\"\"x\"\"\"", "invalid string", "\"\"\"x\"\"\"");
        assert_rejected("a \"\"\"\n  x", "invalid string", "\"\"\"");
        assert_rejected("a \"\"\"\n  x \"\"\"", "invalid string", "\"\"\"");
        assert_rejected("a \"\"\"\n x\n  \"\"\"", "invalid string", "\"\"\"");
        assert_rejected("a #\"\"\"\n x\n  \"\"\"#", "invalid string", "#\"\"\"");
        assert_rejected("a #\"\"\"\n  x\n  \"\"\"", "invalid string", "#\"\"\"");
    }

    #[test]
    fn unclosed_raw_strings_ending_in_any_character() {
        assert_rejected("a #\"\u{2028}", "invalid string", "#\"");
        assert_rejected("a #\"é", "invalid string", "#\"é");
        assert_rejected("a #\"\"\"\n\u{2028}", "invalid string", "#\"\"\"");
        assert_rejected("a ##\"x\"é", "invalid string", "##\"x\"é");
    }

    #[test]
    fn a_bare_interpolation_is_not_reported_twice() {
        // kdl reads `${...}` as a children block, so what follows on the line is
        // out of place: the file is blocked, and the one diagnostic says why.
        let found = findings("env URL=redis:${service.cache}:6379 a=(b\nx 1");
        let codes: Vec<_> = found.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["stack::bare_interpolation"]);
        assert!(found.unsafe_for_kdl);
        // On the next line, the structural check speaks again.
        let found = findings("image ${x} b\nc =");
        let codes: Vec<_> = found.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["stack::bare_interpolation"]);
        let found = findings("image ${x}\nc =");
        let codes: Vec<_> = found.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["stack::bare_interpolation", "stack::syntax"]);
    }

    #[test]
    fn only_the_first_problem_is_reported() {
        let found = findings("a = =\n) ) )\n{ }");
        assert_eq!(found.diagnostics.len(), 1);
        assert_eq!(found.diagnostics[0].message, "unexpected `=`");
    }

    #[test]
    fn other_checks_come_first() {
        let found = findings("a }\n= = =");
        let messages: Vec<_> = found.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["unmatched `}`"]);
        let found = findings("/- /-a\n= = =");
        assert_eq!(found.diagnostics.len(), 1);
        assert!(found.diagnostics[0].message.contains("/-"));
    }

    #[test]
    fn long_tokens_are_quoted_short_and_on_one_line() {
        let long = "x".repeat(100);
        let text = format!("a {{}} {long}");
        assert_rejected(&text, "unexpected `xxxxxxxxxxxxxxxxxxxxxxxx...`", &long);
        let text = "a {} \"\"\"\n  y\n  \"\"\"";
        assert_rejected(text, "unexpected string", "\"\"\"");
    }
}
