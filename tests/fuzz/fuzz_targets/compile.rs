//! Bytes as a one-file estate through the whole compile, in memory: never a panic; every
//! diagnostic has a code and an in-bounds span; compiling the same bytes twice gives the
//! same diagnostics and the same output.
#![no_main]

use idpc::source::RawFile;
use idpc::{Options, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = [RawFile { path: "main.kdl".into(), bytes: data.to_vec() }];
    let options = Options { today: idpc::model::Date::from_days_since_epoch(20_785) };
    let first = compile(&files, &options);
    for diagnostic in &first.diagnostics {
        for label in &diagnostic.labels {
            let file = first.sources.file(label.span.file).expect("label file exists");
            assert!(label.span.end as usize <= file.text.len(), "span past the end");
        }
    }
    let second = compile(&files, &options);
    assert_eq!(first.diagnostics, second.diagnostics);
    let bytes = |c: &idpc::Compilation| {
        c.output.as_ref().map(|o| o.files().map(|(p, b)| (p.to_owned(), b.to_vec())).collect::<Vec<_>>())
    };
    assert_eq!(bytes(&first), bytes(&second));
});
