//! The parser on its own: the AST it builds, with spans, and §2's lexical rules.

use nnt::ast::{Entry, ExprKind, Item, SourceId};
use nnt::syntax::{parse, parse_expr, SyntaxErrorKind};

const R: SourceId = SourceId::RECIPE;

fn kind_of(text: &str) -> SyntaxErrorKind {
    parse(text, R).expect_err(text).kind
}

#[test]
fn settings_and_sections_with_spans() {
    let text = "seed = 7\nmodel {\n    dense(16)\n    relu\n}\n";
    let r = parse(text, R).unwrap();
    assert_eq!(r.items.len(), 2);
    let Item::Setting(s) = &r.items[0] else {
        panic!()
    };
    assert_eq!(s.name.name, "seed");
    assert_eq!(&text[s.span.start..s.span.end], "seed = 7");
    let Item::Section(m) = &r.items[1] else {
        panic!()
    };
    assert_eq!(
        &text[m.span.start..m.span.end],
        "model {\n    dense(16)\n    relu\n}"
    );
    assert_eq!(m.entries.len(), 2);
    let Entry::Layer(e) = &m.entries[0] else {
        panic!()
    };
    assert_eq!(&text[e.span.start..e.span.end], "dense(16)");
    let ExprKind::Call(c) = &e.kind else { panic!() };
    assert_eq!(c.name.name, "dense");
    assert_eq!(c.args.len(), 1);
    let Entry::Layer(e) = &m.entries[1] else {
        panic!()
    };
    assert!(matches!(&e.kind, ExprKind::Name(i) if i.name == "relu"));
}

#[test]
fn integers_and_floats() {
    for (t, int, v) in [
        ("16", true, 16.0),
        ("-3", true, -3.0),
        ("16.0", false, 16.0),
        ("1e3", false, 1000.0),
        ("2.5E-2", false, 0.025),
    ] {
        let e = parse_expr(t, R).unwrap();
        let ExprKind::Number(n) = e.kind else {
            panic!("{t}")
        };
        assert_eq!(n.is_integer, int, "{t}");
        assert_eq!(n.value, v, "{t}");
        assert_eq!(n.text, t);
    }
}

#[test]
fn malformed_numbers_are_syntax_errors() {
    for t in [".5", "5.", "+1", "3abc", "1e", "1.2.3", "-.5", "0x10"] {
        let text = format!("seed = {t}\n");
        assert!(
            matches!(kind_of(&text), SyntaxErrorKind::BadNumber(_)),
            "{t}"
        );
    }
}

#[test]
fn strings_and_escapes() {
    let e = parse_expr(r#""a\"b\\c\nd\te""#, R).unwrap();
    assert_eq!(e.kind, ExprKind::String("a\"b\\c\nd\te".into()));
    assert_eq!(kind_of("save = \"a\\qb\"\n"), SyntaxErrorKind::BadEscape);
    assert_eq!(
        kind_of("save = \"ab\ncd\"\n"),
        SyntaxErrorKind::UnterminatedString
    );
    // `#` inside a string is not a comment.
    let r = parse("save = \"a#b\" # real comment\n", R).unwrap();
    assert_eq!(r.comments.len(), 1);
    assert_eq!(r.comments[0].text, " real comment");
}

#[test]
fn comments_are_collected_in_order() {
    let text = "# one\nseed = 1 # two\nmodel { # three\n  relu # four\n}\n# five";
    let r = parse(text, R).unwrap();
    let texts: Vec<&str> = r.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, [" one", " two", " three", " four", " five"]);
    let c = &r.comments[1];
    assert_eq!(&text[c.span.start..c.span.end], "# two");
}

#[test]
fn closing_brace_ends_the_last_entry_and_semicolons_separate() {
    let r = parse("train { epochs = 2 }", R).unwrap();
    let Item::Section(s) = &r.items[0] else {
        panic!()
    };
    assert_eq!(s.entries.len(), 1);
    let r = parse("a = 1; b = 2;;\nm { x; y = 3 ; z }", R).unwrap();
    assert_eq!(r.items.len(), 3);
    let Item::Section(s) = &r.items[2] else {
        panic!()
    };
    assert_eq!(s.entries.len(), 3);
    let r = parse("", R).unwrap();
    assert!(r.items.is_empty());
    let r = parse("\n\n# only a comment\n", R).unwrap();
    assert!(r.items.is_empty());
}

#[test]
fn newlines_are_insignificant_inside_brackets_only() {
    let r = parse(
        "o = adam(\n  lr = 0.1,\n  beta1 = 0.9,\n)\nr = [\n l2(1),\n\n l1(2)\n]\n",
        R,
    )
    .unwrap();
    assert_eq!(r.items.len(), 2);
    assert!(parse("o =\nadam(lr = 1)", R).is_err());
    assert!(parse("model\n{ relu }", R).is_err());
    assert!(parse("a = 1 b = 2", R).is_err());
}

#[test]
fn bool_bare_name_call_list() {
    assert_eq!(parse_expr("true", R).unwrap().kind, ExprKind::Bool(true));
    assert!(matches!(
        parse_expr("truex", R).unwrap().kind,
        ExprKind::Name(_)
    ));
    assert!(
        matches!(parse_expr("relu()", R).unwrap().kind, ExprKind::Call(ref c) if c.args.is_empty())
    );
    let e = parse_expr("[1, \"a\", f(x = 2), [true]]", R).unwrap();
    let ExprKind::List(items) = e.kind else {
        panic!()
    };
    assert_eq!(items.len(), 4);
    let e = parse_expr("f(1, x = 2,)", R).unwrap();
    let ExprKind::Call(c) = e.kind else { panic!() };
    assert!(c.args[0].name.is_none());
    assert_eq!(c.args[1].name.as_ref().unwrap().name, "x");
}

#[test]
fn identifiers_are_ascii() {
    assert!(matches!(
        kind_of("séed = 1"),
        SyntaxErrorKind::NonAsciiIdent('é')
    ));
    assert!(matches!(
        kind_of("seed = 1 @"),
        SyntaxErrorKind::UnexpectedChar('@')
    ));
    assert!(parse("_a9 = b_C", R).is_ok());
}

#[test]
fn override_values_keep_their_source() {
    let e = parse_expr("   sgd(lr = 0.1)", SourceId(3)).unwrap();
    assert_eq!(e.span.source, SourceId(3));
    assert_eq!(e.span.start, 3);
    assert!(parse_expr("", SourceId(1)).is_err());
    assert!(parse_expr("1 2", SourceId(1)).is_err());
}

#[test]
fn errors_say_what_was_expected_in_words() {
    let cases = [
        (
            "seed 7",
            "expected `=` or `{` after the item name `seed`, found the number `7`",
        ),
        (
            "o = adam(lr = 1",
            "unclosed `(`: expected `)` before the end of the file",
        ),
        ("x = f(1 2)", "expected `,` or `)`, found the number `2`"),
        ("x = [1 2]", "expected `,` or `]`, found the number `2`"),
        (
            "train { epochs = }",
            "expected a value: a number, string, name, call or list, found `}`",
        ),
        (
            "model { dense(3) relu }",
            "expected a new line, `;` or `}`, found `relu`",
        ),
    ];
    for (text, msg) in cases {
        let e = parse(text, R).expect_err(text);
        assert_eq!(e.to_string(), msg, "{text}");
        // Never a pest rule name.
        for rule in ["lbrace", "rparen", "entry_setting", "EOI", "value", "sep"] {
            assert!(
                !e.to_string().contains(rule) || rule == "value",
                "{text}: {e}"
            );
        }
    }
}
