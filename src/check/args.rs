//! Argument binding by name from a built-in's declaration ([`super::catalog`]):
//! positional arguments in the declared order of the parameters, then named ones;
//! unknown, repeated and missing arguments reported. The bound arguments are read
//! by parameter name, through the declared type, range and default.

use crate::ast::{Expr, ExprKind, Span};

use super::catalog::{Builtin, Param, Ty};
use super::error::{plural, CheckError};
use super::suggest;
use super::values;
use super::Cx;

/// The arguments of a call bound to its declared parameters.
#[derive(Debug)]
pub struct Args<'a> {
    pub call: String,
    pub span: Span,
    pub decl: &'static Builtin,
    slots: Vec<Option<&'a Expr>>,
}

impl<'a> Args<'a> {
    fn slot(&self, name: &str) -> Option<(&'static Param, Option<&'a Expr>)> {
        let i = self.decl.params.iter().position(|p| p.name == name)?;
        Some((&self.decl.params[i], self.slots.get(i).copied().flatten()))
    }

    /// The expression given for parameter `name`, if any.
    pub fn get(&self, name: &str) -> Option<&'a Expr> {
        self.slot(name).and_then(|(_, e)| e)
    }

    /// A number parameter: the argument checked against the declared range, else
    /// the declared default; `None` (reported) when it is wrong, or required and
    /// missing (reported by [`bind`]).
    pub fn float(&self, cx: &mut Cx, name: &str) -> Option<f64> {
        let (p, e) = self.slot(name)?;
        let Ty::Float(range) = p.ty else { return None };
        match e {
            Some(x) => values::float_in(cx, x, p.what, range),
            None => p.default.and_then(|d| d.parse().ok()),
        }
    }

    /// An integer parameter of at least the declared minimum (and at most the
    /// declared maximum), else the declared default.
    pub fn count(&self, cx: &mut Cx, name: &str) -> Option<usize> {
        let (p, e) = self.slot(name)?;
        let Ty::Count { min, max } = p.ty else {
            return None;
        };
        match (e, max) {
            (Some(x), None) => values::count(cx, x, p.what, min),
            (Some(x), Some(max)) => values::count_in(cx, x, p.what, min, max),
            (None, _) => p.default.and_then(|d| d.parse().ok()),
        }
    }

    /// A `true`/`false` parameter, else the declared default.
    pub fn boolean(&self, cx: &mut Cx, name: &str) -> Option<bool> {
        let (p, e) = self.slot(name)?;
        match e {
            Some(x) => values::boolean(cx, x, p.what),
            None => p.default.and_then(|d| d.parse().ok()),
        }
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

/// Binds the arguments of `e` (a name or a call) to the parameters of `decl`.
pub fn bind<'a>(cx: &mut Cx, e: &'a Expr, decl: &'static Builtin) -> Args<'a> {
    let names = decl.param_names();
    let params = names.as_slice();
    let required = decl.required();
    let (call, args) = match &e.kind {
        ExprKind::Call(c) => (c.name.name.clone(), c.args.as_slice()),
        ExprKind::Name(i) => (i.name.clone(), &[][..]),
        _ => (String::new(), &[][..]),
    };
    let mut slots: Vec<Option<&'a Expr>> = vec![None; params.len()];
    let mut given_at: Vec<Option<Span>> = vec![None; params.len()];
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
                if next_positional >= params.len() {
                    let max = params.len();
                    cx.err(CheckError::TooManyArguments {
                        call: call.clone(),
                        max,
                        plural: plural(max),
                        span: a.span,
                        help: Some(if max == 0 {
                            format!("`{call}` takes no arguments: write `{call}`")
                        } else {
                            format!("its parameters are: {}", params.join(", "))
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
                let Some(i) = params.iter().position(|p| *p == name.name) else {
                    let help = if params.is_empty() {
                        Some(format!("`{call}` takes no arguments"))
                    } else {
                        let alias = ALIASES
                            .iter()
                            .find(|(from, to)| *from == name.name && params.contains(to))
                            .map(|(_, to)| *to);
                        match alias.or_else(|| suggest::closest(&name.name, params)) {
                            Some(k) => {
                                suggested.push(k);
                                Some(format!("did you mean `{k}`?"))
                            }
                            None => Some(format!("its parameters are: {}", params.join(", "))),
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
    for (i, p) in params.iter().enumerate().take(required) {
        if slots[i].is_none() && given_at[i].is_none() && !suggested.contains(p) {
            cx.err(CheckError::MissingArgument {
                call: call.clone(),
                param: (*p).to_string(),
                span: e.span,
                help: Some(format!("for example `{}`", decl.example)),
            });
        }
    }
    Args {
        call,
        span: e.span,
        decl,
        slots,
    }
}
