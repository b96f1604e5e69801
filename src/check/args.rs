//! Argument binding: positional arguments in the order the spec lists the
//! parameters, then named ones; unknown, repeated and missing arguments reported.

use crate::ast::{Expr, ExprKind, Span};

use super::error::{plural, CheckError};
use super::suggest;
use super::Cx;

/// A callable's parameters, in the spec's order; the first `required` have no default.
#[derive(Debug, Clone, Copy)]
pub struct Sig {
    pub params: &'static [&'static str],
    pub required: usize,
    /// A short example of a correct call, for help texts.
    pub example: &'static str,
}

/// Arguments bound to parameter slots.
#[derive(Debug)]
pub struct Bound<'a> {
    pub call: String,
    pub span: Span,
    slots: Vec<Option<&'a Expr>>,
}

impl<'a> Bound<'a> {
    /// The expression given for parameter `i`, if any.
    pub fn get(&self, i: usize) -> Option<&'a Expr> {
        self.slots.get(i).copied().flatten()
    }
}

/// Parameter names from other frameworks, and what nnt calls them.
const ALIASES: &[(&str, &str)] = &[
    ("learning_rate", "lr"),
    ("rate", "p"),
    ("probability", "p"),
    ("size", "units"),
    ("out_features", "units"),
    ("negative_slope", "slope"),
    ("alpha", "slope"),
    ("use_bias", "bias"),
    ("initializer", "init"),
    ("kernel_initializer", "init"),
    ("beta_1", "beta1"),
    ("beta_2", "beta2"),
    ("epsilon", "eps"),
    ("decay", "weight_decay"),
    ("patience", "p"),
    ("max_norm", "max"),
    ("step_size", "every"),
    ("gamma", "factor"),
    ("mode", "monitor"),
];

/// Binds the arguments of `e` (a name or a call) to `sig`.
pub fn bind<'a>(cx: &mut Cx, e: &'a Expr, sig: &Sig) -> Bound<'a> {
    let (call, args) = match &e.kind {
        ExprKind::Call(c) => (c.name.name.clone(), c.args.as_slice()),
        ExprKind::Name(i) => (i.name.clone(), &[][..]),
        _ => (String::new(), &[][..]),
    };
    let mut slots: Vec<Option<&'a Expr>> = vec![None; sig.params.len()];
    let mut given_at: Vec<Option<Span>> = vec![None; sig.params.len()];
    let mut first_named: Option<Span> = None;
    let mut next_positional = 0usize;
    // Parameters suggested for an unknown argument: not also reported as missing.
    let mut suggested: Vec<&str> = Vec::new();
    for a in args {
        match &a.name {
            None => {
                if let Some(named) = first_named {
                    cx.err(CheckError::PositionalAfterNamed {
                        span: a.span,
                        named: Some(named),
                    });
                    continue;
                }
                if next_positional >= sig.params.len() {
                    let max = sig.params.len();
                    cx.err(CheckError::TooManyArguments {
                        call: call.clone(),
                        max,
                        plural: plural(max),
                        span: a.span,
                        help: Some(if max == 0 {
                            format!("`{call}` takes no arguments: write `{call}`")
                        } else {
                            format!("its parameters are: {}", sig.params.join(", "))
                        }),
                    });
                    continue;
                }
                slots[next_positional] = Some(&a.value);
                given_at[next_positional] = Some(a.span);
                next_positional += 1;
            }
            Some(name) => {
                if first_named.is_none() {
                    first_named = Some(a.span);
                }
                let Some(i) = sig.params.iter().position(|p| *p == name.name) else {
                    let help = if sig.params.is_empty() {
                        Some(format!("`{call}` takes no arguments"))
                    } else {
                        let alias = ALIASES
                            .iter()
                            .find(|(from, to)| *from == name.name && sig.params.contains(to))
                            .map(|(_, to)| *to);
                        match alias.or_else(|| suggest::closest(&name.name, sig.params)) {
                            Some(k) => {
                                suggested.push(k);
                                Some(format!("did you mean `{k}`?"))
                            }
                            None => Some(format!("its parameters are: {}", sig.params.join(", "))),
                        }
                    };
                    cx.err(CheckError::UnknownArgument {
                        call: call.clone(),
                        name: name.name.clone(),
                        span: name.span,
                        help,
                    });
                    continue;
                };
                if let Some(first) = given_at[i] {
                    cx.err(CheckError::RepeatedArgument {
                        name: name.name.clone(),
                        span: a.span,
                        first: Some(first),
                    });
                    continue;
                }
                slots[i] = Some(&a.value);
                given_at[i] = Some(a.span);
            }
        }
    }
    for (i, p) in sig.params.iter().enumerate().take(sig.required) {
        if slots[i].is_none() && given_at[i].is_none() && !suggested.contains(p) {
            cx.err(CheckError::MissingArgument {
                call: call.clone(),
                param: (*p).to_string(),
                span: e.span,
                help: Some(format!("for example `{}`", sig.example)),
            });
        }
    }
    Bound {
        call,
        span: e.span,
        slots,
    }
}
