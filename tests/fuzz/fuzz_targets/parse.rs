//! Bytes to KDL through idpc's parse pass: never a panic or an abort; every diagnostic's
//! span lies inside the text.
#![no_main]

use idpc::diagnostics::Diagnostics;
use idpc::source::FileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut sink = Diagnostics::new();
    let _ = idpc::parse::parse(FileId(0), text, &mut sink);
    for diagnostic in sink.into_sorted() {
        for label in diagnostic.labels {
            assert!(label.span.end as usize <= text.len(), "span past the end");
        }
    }
});
