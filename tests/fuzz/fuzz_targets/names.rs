//! Name handling: whatever the text, a name that parses is a safe file name, stack name part
//! and logical id part.
#![no_main]

use idpc::model::Name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(name) = Name::parse(text) {
        let s = name.as_str();
        assert!(!s.is_empty() && s.len() <= 40);
        assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert!(!s.contains("--") && !s.ends_with('-') && !s.starts_with('-'));
        assert!(!s.contains('/') && !s.contains('\\') && s != "." && s != "..");
        assert!(name.pascal().bytes().all(|b| b.is_ascii_alphanumeric()));
    }
});
