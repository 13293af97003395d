//! Positions: the protocol's (line, UTF-16 column) and the model's byte offsets.

use lsp_types::{Position, Range};

/// A document's text with its line starts, for converting positions both ways.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        LineIndex { starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect() }
    }

    /// The byte offset of `pos` in `text` (clamped to the line's end and the text's).
    pub(crate) fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else { return text.len() };
        let end = self.starts.get(pos.line as usize + 1).map_or(text.len(), |e| e - 1);
        let line = text.get(start..end.max(start)).unwrap_or("");
        let mut units = 0u32;
        for (i, c) in line.char_indices() {
            if units >= pos.character {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        start + line.len()
    }

    /// The position of byte `offset` of `text`.
    pub(crate) fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts[line];
        let before = text.get(start..offset).unwrap_or("");
        Position { line: line as u32, character: before.chars().map(|c| c.len_utf16() as u32).sum() }
    }

    /// The range of bytes `start..end` of `text`.
    pub(crate) fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range { start: self.position(text, start), end: self.position(text, end.max(start)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_and_round_trip() {
        let text = "ab\nx = 😀 + y\n";
        let idx = LineIndex::new(text);
        let y = text.find('y').unwrap();
        let pos = idx.position(text, y);
        // `😀` is two UTF-16 units.
        assert_eq!(pos, Position { line: 1, character: 9 });
        assert_eq!(idx.offset(text, pos), y);
        assert_eq!(idx.offset(text, Position { line: 9, character: 0 }), text.len());
        assert_eq!(idx.offset(text, Position { line: 0, character: 99 }), 2);
    }
}
