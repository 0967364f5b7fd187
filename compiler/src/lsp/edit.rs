//! Moving what the last full check found with the text it points at, through an edit.

use lsp_types::{Position, Range};

use super::text_file;
use crate::source::SourceFile;

/// What an edit changed in a document: the bytes `old[start..old_end]` became
/// `new[start..new_end]`, everything before and after is the same.
pub(super) struct Edit {
    old: SourceFile,
    new: SourceFile,
    start: usize,
    old_end: usize,
    new_end: usize,
}

impl Edit {
    pub(super) fn between(old: &str, new: &str) -> Edit {
        let start = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
        let most = old.len().min(new.len()) - start;
        let same_end = old.bytes().rev().zip(new.bytes().rev()).take(most).take_while(|(a, b)| a == b).count();
        Edit {
            old: text_file(old.to_owned()),
            new: text_file(new.to_owned()),
            start,
            old_end: old.len() - same_end,
            new_end: new.len() - same_end,
        }
    }

    /// Where a range of the old text is in the new one; `None` when the edit touched it.
    pub(super) fn follow(&self, range: Range) -> Option<Range> {
        let offset = |p: Position| self.old.offset_utf16(p.line, p.character);
        let (start, end) = (offset(range.start), offset(range.end));
        if end <= self.start {
            return Some(range);
        }
        if start < self.old_end {
            return None;
        }
        // After the edit: the same bytes, moved by what the edit added or removed.
        let moved = |offset: usize| u32::try_from(offset - self.old_end + self.new_end).ok();
        Some(super::range(&self.new, moved(start)?, moved(end)?))
    }
}

#[cfg(test)]
mod tests {
    use super::Edit;
    use lsp_types::{Position, Range};

    fn at(line: u32, character: u32) -> Position {
        Position::new(line, character)
    }

    #[test]
    fn a_range_follows_its_text_through_an_edit() {
        let old = "a\nbaseline \"x\"\nz\n";
        let range = Range::new(at(1, 0), at(1, 12));
        // An edit after it leaves it; one before it moves it; one inside it drops it.
        assert_eq!(Edit::between(old, &format!("{old}// more\n")).follow(range), Some(range));
        let moved = Edit::between(old, &format!("// 🚀\n{old}")).follow(range);
        assert_eq!(moved, Some(Range::new(at(2, 0), at(2, 12))));
        let widened = Edit::between(old, "a = 🚀;\nbaseline \"x\"\nz\n").follow(range);
        assert_eq!(widened, Some(range), "same line numbers, same columns on its own line");
        assert_eq!(Edit::between(old, "a\nbaseline \"y\"\nz\n").follow(range), None);
        assert_eq!(Edit::between(old, old).follow(range), Some(range));
    }
}
