//! Checked access to a KDL node's arguments, properties and children.
//!
//! kdl keeps duplicate properties and returns the last one; we must not, so every node is
//! split once by `Reader::open`, which reports duplicate and unknown properties, type
//! annotations and surplus arguments. Typed getters report wrong types with the value's span.

use std::collections::BTreeMap;

use kdl::{KdlEntry, KdlNode, KdlValue};

use crate::diagnostics::{Code, Diagnostic, Diagnostics, did_you_mean, suggest};
use crate::model::{Name, Spanned};
use crate::source::{FileId, Span};

/// Lowering context for one file.
pub struct Ctx<'s> {
    /// The file being lowered.
    pub file: FileId,
    /// Where problems go.
    pub sink: &'s mut Diagnostics,
}

/// What a node may carry.
pub struct Shape<'a> {
    /// Number of positional arguments required.
    pub min_args: usize,
    /// Number of positional arguments allowed (`usize::MAX` for a list).
    pub max_args: usize,
    /// Allowed property names.
    pub props: &'a [&'a str],
    /// Allowed child node names; empty means no children block.
    pub children: &'a [&'a str],
    /// Any property is allowed (baseline parameters are checked later, against the declaration).
    pub any_props: bool,
}

impl Shape<'static> {
    /// No arguments, properties or children.
    pub const NONE: Shape<'static> = Shape { min_args: 0, max_args: 0, props: &[], children: &[], any_props: false };
    /// One or more arguments and nothing else.
    pub const LIST: Shape<'static> = Shape { min_args: 1, max_args: usize::MAX, ..Shape::NONE };
    /// Exactly one argument and nothing else.
    pub const ONE_ARG: Shape<'static> = Shape { min_args: 1, max_args: 1, ..Shape::NONE };
}

/// A node split into arguments and properties.
pub struct Reader<'a> {
    /// The node.
    pub node: &'a KdlNode,
    /// Positional arguments.
    pub args: Vec<&'a KdlEntry>,
    /// Properties by name (first occurrence).
    pub props: BTreeMap<&'a str, &'a KdlEntry>,
    /// Children, in order; only names from the shape.
    pub children: Vec<&'a KdlNode>,
    /// The properties that the `unknown-property` diagnostics of this node suggested ("did you
    /// mean `burst`?" for `brust=`).
    pub suggested: Vec<String>,
}

impl Ctx<'_> {
    /// The span of a kdl item in this file.
    pub fn span(&self, span: miette::SourceSpan) -> Span {
        Span::from_kdl(self.file, span)
    }

    /// The span of a node's name.
    pub fn name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    /// The span of an entry's value (without `key=`).
    pub fn value_span(&self, entry: &KdlEntry) -> Span {
        let whole = self.span(entry.span());
        match entry.format() {
            Some(format) if !format.value_repr.is_empty() && format.value_repr.len() <= whole.len() => {
                Span { start: whole.end - format.value_repr.len() as u32, ..whole }
            }
            _ => whole,
        }
    }

    /// Reports a diagnostic.
    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.sink.push(diagnostic);
    }

    /// Splits `node` by `shape`, reporting everything that does not fit.
    pub fn open<'a>(&mut self, node: &'a KdlNode, shape: &Shape<'_>) -> Reader<'a> {
        let what = node.name().value();
        if let Some(ty) = node.ty() {
            self.report(
                Diagnostic::new(Code::WrongType, "type annotations are not supported")
                    .primary(self.span(ty.span()), "annotation")
                    .help("remove the `(...)` before the node name"),
            );
        }
        let mut reader =
            Reader { node, args: Vec::new(), props: BTreeMap::new(), children: Vec::new(), suggested: Vec::new() };
        for entry in node.entries() {
            if let Some(ty) = entry.ty() {
                self.report(
                    Diagnostic::new(Code::WrongType, "type annotations are not supported")
                        .primary(self.span(ty.span()), "annotation")
                        .help("remove the `(...)` before the value"),
                );
            }
            match entry.name() {
                None => {
                    if reader.args.len() >= shape.max_args {
                        let help = match shape.max_args {
                            0 => format!("`{what}` takes no arguments"),
                            1 => format!("`{what}` takes one argument"),
                            n => format!("`{what}` takes at most {n} arguments"),
                        };
                        self.report(
                            Diagnostic::new(Code::UnexpectedArgument, format!("too many arguments for `{what}`"))
                                .primary(self.span(entry.span()), "unexpected argument")
                                .help(help),
                        );
                    } else {
                        reader.args.push(entry);
                    }
                }
                Some(key) => {
                    let key_text = key.value();
                    if !shape.any_props && !shape.props.contains(&key_text) {
                        let help = if shape.children.contains(&key_text) {
                            format!(
                                "`{key_text}` is a node: write `{key_text} ...` on its own line inside the block of `{what}`"
                            )
                        } else if shape.props.is_empty() {
                            format!("`{what}` takes no properties")
                        } else {
                            suggest(key_text, shape.props)
                        };
                        self.report(
                            Diagnostic::new(
                                Code::UnknownProperty,
                                format!("unknown property `{key_text}` on `{what}`"),
                            )
                            .primary(self.span(key.span()), "unknown property")
                            .help(help),
                        );
                        reader.suggested.extend(did_you_mean(key_text, shape.props.iter().copied()).map(str::to_owned));
                    } else if let Some(first) = reader.props.get(key_text) {
                        self.report(
                            Diagnostic::new(Code::DuplicateProperty, format!("property `{key_text}` is given twice"))
                                .primary(self.span(entry.span()), "second value")
                                .secondary(self.span(first.span()), "first value")
                                .help("give each property once; KDL would silently keep the last one"),
                        );
                    } else {
                        reader.props.insert(key_text, entry);
                    }
                }
            }
        }
        if reader.args.len() < shape.min_args {
            let missing = shape.min_args - reader.args.len();
            self.report(
                Diagnostic::new(
                    Code::MissingArgument,
                    format!("`{what}` needs {missing} more argument{}", if missing == 1 { "" } else { "s" }),
                )
                .primary(self.name_span(node), format!("`{what}` is incomplete")),
            );
        }
        if let Some(children) = node.children() {
            if shape.children.is_empty() {
                self.report(
                    Diagnostic::new(Code::UnknownNode, format!("`{what}` takes no children block"))
                        .primary(self.span(children.span()), "unexpected block")
                        .help("remove the `{ ... }` block"),
                );
            } else {
                for child in children.nodes() {
                    let name = child.name().value();
                    if shape.children.contains(&name) {
                        reader.children.push(child);
                    } else {
                        self.report(
                            Diagnostic::new(Code::UnknownNode, format!("unknown node `{name}` inside `{what}`"))
                                .primary(self.name_span(child), "unknown node")
                                .help(suggest(name, shape.children)),
                        );
                    }
                }
            }
        }
        reader
    }

    /// A required property; reports `missing-property` when absent.
    pub fn required<'a>(&mut self, reader: &Reader<'a>, key: &str) -> Option<&'a KdlEntry> {
        let entry = reader.props.get(key).copied();
        // `brust=` is reported once, as the unknown property whose did-you-mean is `burst`:
        // its consequence, the missing `burst=`, would only repeat it.
        let misspelt = reader.suggested.iter().any(|s| s == key);
        if entry.is_none() && !misspelt {
            let what = reader.node.name().value();
            self.report(
                Diagnostic::new(Code::MissingProperty, format!("`{what}` needs `{key}=`"))
                    .primary(self.name_span(reader.node), format!("no `{key}=` here")),
            );
        }
        entry
    }

    /// The only child called `name`; reports `duplicate-node` for the second and later ones.
    pub fn single<'a>(&mut self, reader: &Reader<'a>, name: &str) -> Option<&'a KdlNode> {
        let mut found = reader.children.iter().copied().filter(|c| c.name().value() == name);
        let first = found.next();
        for extra in found {
            if let Some(first) = first {
                self.report(
                    Diagnostic::new(Code::DuplicateNode, format!("`{name}` is given twice"))
                        .primary(self.name_span(extra), "second one")
                        .secondary(self.name_span(first), "first one")
                        .help(format!("`{name}` may appear once here")),
                );
            }
        }
        first
    }

    /// Every child called `name`.
    pub fn all<'a>(&self, reader: &Reader<'a>, name: &str) -> Vec<&'a KdlNode> {
        reader.children.iter().copied().filter(|c| c.name().value() == name).collect()
    }

    /// A string value.
    pub fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), self.value_span(entry))),
            other => {
                self.wrong_type(entry, what, "a string", other);
                None
            }
        }
    }

    /// A string that satisfies the naming rule.
    pub fn name(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<Name>> {
        let text = self.string(entry, what)?;
        match Name::parse(&text.value) {
            Ok(name) => Some(Spanned::new(name, text.span)),
            Err(error) => {
                self.report(
                    Diagnostic::new(Code::BadName, format!("`{}` is not a valid {what}", text.value))
                        .primary(text.span, error.to_string())
                        .help("names are lower-case `[a-z][a-z0-9-]*`, at most 40 characters, such as `acme-prod`"),
                );
                None
            }
        }
    }

    /// A whole number within `min..=max`.
    pub fn integer(&mut self, entry: &KdlEntry, what: &str, min: i64, max: i64) -> Option<Spanned<i64>> {
        let span = self.value_span(entry);
        let value = match entry.value() {
            KdlValue::Integer(i) => *i,
            KdlValue::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => *f as i128,
            other => {
                self.wrong_type(entry, what, "a whole number", other);
                return None;
            }
        };
        if value < i128::from(min) || value > i128::from(max) {
            self.out_of_range(span, what, &format!("{min} to {max}"));
            return None;
        }
        i64::try_from(value).ok().map(|v| Spanned::new(v, span))
    }

    /// A finite number within `min..=max`.
    pub fn number(&mut self, entry: &KdlEntry, what: &str, min: f64, max: f64) -> Option<Spanned<f64>> {
        let span = self.value_span(entry);
        let value = match entry.value() {
            KdlValue::Integer(i) if i.unsigned_abs() < (1u128 << 53) => *i as f64,
            KdlValue::Float(f) if f.is_finite() => *f,
            other => {
                self.wrong_type(entry, what, "a finite number", other);
                return None;
            }
        };
        if !(min..=max).contains(&value) {
            self.out_of_range(span, what, &format!("{min} to {max}"));
            return None;
        }
        Some(Spanned::new(value, span))
    }

    /// Reports a number outside its range.
    pub fn out_of_range(&mut self, span: Span, what: &str, range: &str) {
        self.report(
            Diagnostic::new(Code::ValueOutOfRange, format!("{what} is out of range"))
                .primary(span, format!("not within {range}"))
                .help(format!("{what} must be within {range}")),
        );
    }

    fn wrong_type(&mut self, entry: &KdlEntry, what: &str, expected: &str, found: &KdlValue) {
        let found = match found {
            KdlValue::String(_) => "a string",
            KdlValue::Integer(_) => "an integer",
            KdlValue::Float(f) if !f.is_finite() => "a non-finite number",
            KdlValue::Float(_) => "a decimal number",
            KdlValue::Bool(_) => "a boolean",
            KdlValue::Null => "#null",
        };
        self.report(
            Diagnostic::new(Code::WrongType, format!("{what} must be {expected}"))
                .primary(self.value_span(entry), format!("this is {found}"))
                .help(format!("write {what} as {expected}")),
        );
    }
}
