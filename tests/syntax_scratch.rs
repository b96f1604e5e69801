mod common;
use std::sync::Arc;
#[test]
fn scratch() {
    let cases = [
        "seed 7", "seed = 1 x", "loss = mse x", "model { dense 3 }", "train { epochs 3 }", "train { epochs = }",
        "optimizer =\n adam(lr=1)", "3 = 4", "seed = 3abc", "seed = .5", "seed = 5.", "seed = +1",
        "optimizer = adam(lr = 0.1", "regularize = [l2(0.1]", "x = f(a 2)", "x = f(1 2)", "x = [1 2]",
        "model {\n dense(3)\n", "save = \"abc", "save = \"a\\qb\"", "seed = @", "séed = 1", "x = - 1",
        "model { dense(3) relu }", "model {\n}\n}", "x = f(,)", "x = [,]", "x = 1e999", "x = f(a = )", "data {\n train = csv(\"a.csv\", label = \"y\")\n normalize = standard\n  valid split(train, 0.2)\n}",
        "model\n{\n}",
    ];
    for c in cases {
        match nnt::syntax::parse(c, nnt::ast::SourceId(0)) {
            Ok(r) => eprintln!("OK {c:?}: {} items", r.items.len()),
            Err(e) => {
                let s = nnt::check::sourced::Sourced::new(Box::new(e), "t.nnt", Arc::new(c.to_string()));
                eprintln!("{}", common::render(&s));
            }
        }
    }
}
