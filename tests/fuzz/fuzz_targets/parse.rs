//! Bytes to KDL through idpc's parse pass: never a panic or an abort; every diagnostic's
//! label is a range of the text on character boundaries.
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
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(start <= end && end <= text.len(), "span {start}..{end} outside the text");
            assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "span inside a character");
        }
    }
});
