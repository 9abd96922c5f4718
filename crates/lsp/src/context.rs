//! Where the cursor is in a stack file, read from tokens so that it works on
//! the half-written text an editor sends while the user types.

use stack_syntax::lexer::{Token, TokenKind, tokenize};

/// The cursor's place in the file's nesting of nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The names of the enclosing nodes, outermost first: `["service", "update"]`.
    pub path: Vec<String>,
    /// The node the cursor is in (its name so far, when the cursor is on the name).
    pub node: String,
    pub place: Place,
    /// The token under the cursor, if any.
    pub token: Option<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// On a node's name, or where one may start.
    NodeName,
    /// On, or where one may start, the node's argument number `n`.
    Argument(usize),
    /// On a property's name, before its `=`.
    PropertyKey,
    /// On the value of the property `key=`.
    PropertyValue(String),
    /// Inside `${`, with what is written after it so far: `service.a`.
    Interpolation(String),
}

impl Context {
    /// Whether the cursor is inside quotes, where names go in without them.
    pub fn in_string(&self) -> bool {
        self.token.is_some_and(|token| is_string(token.kind))
    }
}

/// The context of the cursor at byte `offset` of `text`.
pub fn at(text: &str, offset: usize) -> Context {
    let tokens: Vec<Token> = tokenize(text).collect();
    let mut path: Vec<String> = Vec::new();
    let mut node = String::new();
    let mut at_start = true;
    let mut arguments = 0;
    let mut key: Option<String> = None;
    let mut continued = false;
    for (position, &token) in tokens.iter().enumerate() {
        if token.start >= offset {
            break;
        }
        let word = matches!(token.kind, TokenKind::Atom) || is_string(token.kind);
        if word && token.end >= offset {
            let place = if let Some(text_before) = interpolation(text, token, offset) {
                Place::Interpolation(text_before)
            } else if at_start {
                node = unquote(token.text(text)).to_owned();
                Place::NodeName
            } else if let Some(key) = key {
                Place::PropertyValue(key)
            } else if tokens
                .get(position + 1)
                .is_some_and(|next| next.kind == TokenKind::Equals)
            {
                Place::PropertyKey
            } else {
                Place::Argument(arguments)
            };
            return Context {
                path,
                node,
                place,
                token: Some(token),
            };
        }
        match token.kind {
            TokenKind::Newline | TokenKind::Semicolon if !continued => {
                at_start = true;
                node.clear();
            }
            TokenKind::OpenBrace => {
                path.push(std::mem::take(&mut node));
                at_start = true;
            }
            TokenKind::CloseBrace => {
                path.pop();
                node.clear();
                at_start = true;
            }
            TokenKind::Equals => {
                arguments = arguments.saturating_sub(1);
                key = tokens[..position]
                    .iter()
                    .rev()
                    .find(|before| before.kind == TokenKind::Atom)
                    .map(|before| before.text(text).to_owned());
                continue;
            }
            _ if word && at_start => {
                node = unquote(token.text(text)).to_owned();
                at_start = false;
                arguments = 0;
                key = None;
            }
            // A property's value is no argument.
            _ if word && key.take().is_none() => arguments += 1,
            _ => {}
        }
        if !matches!(token.kind, TokenKind::Whitespace | TokenKind::BlockComment) {
            continued = token.kind == TokenKind::LineContinuation;
        }
    }
    let place = match key {
        _ if at_start => Place::NodeName,
        Some(key) => Place::PropertyValue(key),
        None => Place::Argument(arguments),
    };
    if place == Place::NodeName {
        node.clear();
    }
    Context {
        path,
        node,
        place,
        token: None,
    }
}

fn is_string(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::String | TokenKind::RawString | TokenKind::MultiLineString | TokenKind::MultiLineRawString
    )
}

/// What follows an unclosed `${` before the cursor, when the cursor is in a string.
fn interpolation(text: &str, token: Token, offset: usize) -> Option<String> {
    if !is_string(token.kind) {
        return None;
    }
    let before = text.get(token.start..offset)?;
    let open = before.rfind("${")?;
    let after = &before[open + 2..];
    (!after.contains('}')).then(|| after.trim_start().to_owned())
}

/// A name or value without its quotes.
pub fn unquote(text: &str) -> &str {
    let text = text.trim_matches('#');
    text.strip_prefix('"')
        .map(|inner| inner.strip_suffix('"').unwrap_or(inner))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context at the `|` in `text`.
    fn context(text: &str) -> Context {
        let offset = text.find('|').expect("a cursor");
        at(&text.replace('|', ""), offset)
    }

    fn path(context: &Context) -> Vec<&str> {
        context.path.iter().map(String::as_str).collect()
    }

    #[test]
    fn top_level_and_fields() {
        assert_eq!(context("serv|").place, Place::NodeName);
        assert!(context("|").path.is_empty());
        let inside = context("service \"api\" {\n    update {\n        or|\n");
        assert_eq!(path(&inside), ["service", "update"]);
        assert_eq!(inside.place, Place::NodeName);
        assert_eq!(inside.node, "or");
        let after = context("service \"api\" {\n    update {\n    }\n    |\n}\n");
        assert_eq!(path(&after), ["service"]);
    }

    #[test]
    fn arguments_and_properties() {
        let order = context("service \"api\" {\n    update {\n        order \"st|\"\n");
        assert_eq!(
            (order.node.as_str(), &order.place),
            ("order", &Place::Argument(0))
        );
        assert!(order.in_string());
        let bare = context("service \"api\" {\n    depends-on |\n}");
        assert_eq!(
            (bare.node.as_str(), &bare.place),
            ("depends-on", &Place::Argument(0))
        );
        assert!(!bare.in_string());
        let condition = context("service \"api\" {\n    depends-on \"db\" condition=\"he|\"\n}");
        assert_eq!(condition.place, Place::PropertyValue("condition".to_owned()));
        let key = context("service \"api\" {\n    depends-on \"db\" cond|=\"healthy\"\n}");
        assert_eq!(key.place, Place::PropertyKey);
    }

    #[test]
    fn interpolations() {
        let open = context("service \"api\" {\n    env {\n        URL \"http://${service.d|\"\n");
        assert_eq!(open.place, Place::Interpolation("service.d".to_owned()));
        let closed = context("service \"api\" {\n    env {\n        URL \"${var.x}:|\"\n");
        assert_eq!(closed.place, Place::Argument(0));
    }
}
