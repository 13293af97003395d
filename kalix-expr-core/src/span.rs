//! Byte spans into the source text.

/// A half-open range of byte offsets `start..end` into an expression's source text.
///
/// Spans are always on `char` boundaries. Lines and columns are computed from a span only when an
/// error is displayed (see [`Span::line_col`]).
///
/// ```
/// use kalix_expr_core::Span;
/// let span = Span::new(4, 7);
/// assert_eq!(&"max(abc)"[span.range()], "abc");
/// assert_eq!(Span::new(0, 1).line_col("a\nbc"), (1, 1));
/// assert_eq!(Span::new(3, 4).line_col("a\nbc"), (2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The span as a range, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// The 1-based line and 1-based column (counted in `char`s) of the span's start in `source`.
    /// Offsets past the end, or inside a `char`, are clamped to the nearest boundary before it.
    pub fn line_col(self, source: &str) -> (usize, usize) {
        let mut at = self.start.min(source.len());
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        let before = &source[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = source[line_start..at].chars().count() + 1;
        (line, col)
    }
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}
