//! The one sort the loader uses: an in-place heap sort. It is not stable
//! (callers that care about ties sort by a key that has none) and runs in
//! O(n log n) with no allocation; the algorithm exists once, and each use
//! adds only its comparison and exchange.
//! The standard library's sorts are faster on large inputs but cost
//! several kilobytes per instantiation, which matters in a kernel for a
//! microcontroller; nothing the loader sorts is large enough to notice.

/// Sorts `items` so that no element is `less` than the one before it.
pub(crate) fn sort_by<T>(items: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    heap_sort(items.len(), &mut |step| match step {
        Step::Less(a, b) => less(&items[a], &items[b]),
        Step::Swap(a, b) => {
            items.swap(a, b);
            true
        }
    });
}

/// Sorts `items` by the key `key` gives each.
pub(crate) fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a) < key(b));
}

/// What the sort asks of the sequence it orders, by position.
enum Step {
    /// Whether the element at the first position is less than the one at
    /// the second.
    Less(usize, usize),
    /// Exchange two elements (the answer is ignored).
    Swap(usize, usize),
}

/// The heap sort itself, over positions `0..n`: one copy of the
/// algorithm whatever the element type, so each caller adds only its
/// comparison and exchange.
fn heap_sort(n: usize, op: &mut dyn FnMut(Step) -> bool) {
    for start in (0..n / 2).rev() {
        sift_down(op, start, n);
    }
    for end in (1..n).rev() {
        op(Step::Swap(0, end));
        sift_down(op, 0, end);
    }
}

/// Moves the element at `root` down the max-heap `0..end` to its place.
fn sift_down(op: &mut dyn FnMut(Step) -> bool, mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && op(Step::Less(child, child + 1)) {
            child += 1;
        }
        if !op(Step::Less(root, child)) {
            return;
        }
        op(Step::Swap(root, child));
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn sorts_like_the_standard_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 1, 2, 3, 7, 64, 1000] {
            let mut items: Vec<u32> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 97) as u32
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_unstable();
            sort_by(&mut items, |a, b| a < b);
            assert_eq!(items, expected, "len {len}");
            sort_by_key(&mut items, |&v| core::cmp::Reverse(v));
            expected.reverse();
            assert_eq!(items, expected, "len {len}, reversed");
        }
    }
}
