//! One axis of a tile grid: where each part starts and ends.

/// The cut of one axis of length `len` into consecutive parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    /// `parts + 1` increasing boundaries from 0 to the axis length.
    bounds: Vec<usize>,
}

impl Axis {
    /// `parts` parts as equal as possible (part k is [k·len/parts, (k+1)·len/parts)).
    /// Needs 1 ≤ parts ≤ len.
    pub fn even(len: usize, parts: usize) -> Axis {
        assert!(parts >= 1 && parts <= len.max(1), "{parts} parts of {len}");
        Axis {
            bounds: (0..=parts).map(|k| k * len / parts).collect(),
        }
    }

    /// Parts of `tile` elements, the last one shorter when `tile` does not divide `len`.
    pub fn fixed(len: usize, tile: usize) -> Axis {
        assert!(tile >= 1);
        let parts = len.div_ceil(tile).max(1);
        Axis {
            bounds: (0..=parts).map(|k| (k * tile).min(len)).collect(),
        }
    }

    /// Number of parts.
    pub fn parts(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Where part `k` starts.
    pub fn start(&self, k: usize) -> usize {
        self.bounds[k]
    }

    /// Length of part `k`.
    pub fn len(&self, k: usize) -> usize {
        self.bounds[k + 1] - self.bounds[k]
    }

    /// The shortest part.
    pub fn min_len(&self) -> usize {
        (0..self.parts()).map(|k| self.len(k)).min().unwrap_or(0)
    }

    /// Length of the whole axis.
    pub fn total(&self) -> usize {
        *self.bounds.last().expect("at least one bound")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_cuts_cover_the_axis() {
        let a = Axis::even(10, 3);
        assert_eq!((a.parts(), a.start(1), a.len(0), a.len(2)), (3, 3, 3, 4));
        let f = Axis::fixed(10, 4);
        assert_eq!((f.parts(), f.start(2), f.len(2), f.total()), (3, 8, 2, 10));
        assert_eq!(Axis::fixed(8, 4).parts(), 2);
    }
}
