//! Page ranges and final permissions of a shared object's segments: which
//! pages to commit, and W^X protections where segments share a page.

use alloc::vec::Vec;

use crate::error::LoadError;
use crate::memory::{align_down, align_up, Protection};

/// A loadable segment in unbiased addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub filesz: u64,
    pub offset: u64,
    pub prot: Protection,
}

fn union(a: Protection, b: Protection) -> Option<Protection> {
    use Protection::Read;
    match (a, b) {
        (x, y) if x == y => Some(x),
        (Read, x) | (x, Read) => Some(x),
        _ => None,
    }
}

/// Page-aligned `[start, end)` ranges with one protection each, sorted and
/// non-overlapping, covering every segment. Pages shared by segments get the
/// union of their permissions; a page that would need write and execute is
/// refused.
pub(crate) fn protections(
    segments: &[Segment],
    page: u64,
) -> Result<Vec<(u64, u64, Protection)>, LoadError> {
    let mut bounds: Vec<u64> = Vec::with_capacity(segments.len() * 2);
    for s in segments {
        bounds.push(align_down(s.vaddr, page));
        bounds.push(
            align_up(s.vaddr + s.memsz, page)
                .ok_or(LoadError::malformed("segment too large", s.offset))?,
        );
    }
    crate::sort::sort_by(&mut bounds, |a, b| a < b);
    bounds.dedup();
    let mut out: Vec<(u64, u64, Protection)> = Vec::new();
    for w in bounds.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        let mut prot: Option<Protection> = None;
        for s in segments {
            let (slo, shi) = (
                align_down(s.vaddr, page),
                align_up(s.vaddr + s.memsz, page).unwrap_or(u64::MAX),
            );
            if slo < hi && lo < shi {
                prot = Some(match prot {
                    None => s.prot,
                    Some(p) => union(p, s.prot).ok_or(LoadError::Unsupported {
                        what: "a page shared by writable and executable segments (W^X)",
                    })?,
                });
            }
        }
        let Some(prot) = prot else { continue };
        match out.last_mut() {
            Some(last) if last.1 == lo && last.2 == prot => last.1 = hi,
            _ => out.push((lo, hi, prot)),
        }
    }
    Ok(out)
}

/// `ranges` with `[lo, hi)` set to read-only (RELRO), split as needed.
pub(crate) fn with_read_only(
    ranges: &[(u64, u64, Protection)],
    lo: u64,
    hi: u64,
) -> Vec<(u64, u64, Protection)> {
    let mut out: Vec<(u64, u64, Protection)> = Vec::with_capacity(ranges.len() + 2);
    let mut push = |a: u64, b: u64, p: Protection| {
        if a < b {
            match out.last_mut() {
                Some(last) if last.1 == a && last.2 == p => last.1 = b,
                _ => out.push((a, b, p)),
            }
        }
    };
    for &(a, b, p) in ranges {
        if hi <= a || b <= lo || p == Protection::Read {
            push(a, b, p);
            continue;
        }
        push(a, lo.max(a), p);
        push(lo.max(a), hi.min(b), Protection::Read);
        push(hi.min(b), b, p);
    }
    out
}

/// The protection `ranges` give every page of `[lo, hi)`, if they give them
/// all the same one.
pub(crate) fn uniform(ranges: &[(u64, u64, Protection)], lo: u64, hi: u64) -> Option<Protection> {
    let &(_, _, p) = ranges.iter().find(|&&(a, b, _)| a <= lo && hi <= b)?;
    Some(p)
}

/// The pages of segment `i` of `segments` (sorted by address) that can come
/// from the file's own pages, as `(first, end, file_offset)`: every page
/// the segment touches when it alone touches them, has no zero-filled
/// tail and keeps one protection other than read-write (a file page holds
/// exactly its bytes then, and the bytes of the file around them fill the
/// rest of its first and last page, which nothing else uses); otherwise its
/// whole pages inside its file bytes, if there are at least `at_least` of
/// them. Read-write segments take the second form only, as their partial
/// pages are zeroed and written.
pub(crate) fn from_file(
    segments: &[Segment],
    i: usize,
    ranges: &[(u64, u64, Protection)],
    page: u64,
    at_least: u64,
) -> Option<(u64, u64, u64)> {
    let s = segments.get(i)?;
    let down = |v: u64| v - v % page;
    let up = |v: u64| v.checked_add(page - 1).map(down);
    let (first, end) = (down(s.vaddr), up(s.vaddr.checked_add(s.filesz)?)?);
    let alone = segments.iter().enumerate().all(|(k, o)| {
        k == i || o.vaddr.saturating_add(o.memsz.max(1)) <= first || end <= down(o.vaddr)
    });
    let whole_pages = s.memsz == s.filesz
        && alone
        && s.offset % page == s.vaddr % page
        && !matches!(
            uniform(ranges, first, end),
            None | Some(Protection::ReadWrite)
        );
    if whole_pages {
        return Some((first, end, down(s.offset)));
    }
    let first = up(s.vaddr)?;
    let end = down(s.vaddr.checked_add(s.filesz)?);
    let file_first = s.offset.checked_add(first - s.vaddr)?;
    (first < end && end - first >= at_least * page && file_first % page == 0)
        .then_some((first, end, file_first))
}

/// `list` less the pages of `done` (sorted, non-overlapping ranges that
/// hold their final protection already).
pub(crate) fn without(
    list: &[(u64, u64, Protection)],
    done: &[(u64, u64)],
) -> Vec<(u64, u64, Protection)> {
    let mut out = Vec::with_capacity(list.len() + done.len());
    for &(a, b, p) in list {
        let mut from = a;
        for &(x, y) in done.iter().filter(|&&(x, y)| x < b && a < y) {
            if from < x {
                out.push((from, x, p));
            }
            from = from.max(y);
        }
        if from < b {
            out.push((from, b, p));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_alone_on_their_pages_come_whole_from_the_file() {
        // libz's layout: R headers, RX text, R rodata, RW data.
        let segments = [
            Segment {
                vaddr: 0,
                memsz: 0x2280,
                filesz: 0x2280,
                offset: 0,
                prot: Protection::Read,
            },
            Segment {
                vaddr: 0x3000,
                memsz: 0x1200d,
                filesz: 0x1200d,
                offset: 0x3000,
                prot: Protection::ReadExecute,
            },
            Segment {
                vaddr: 0x16000,
                memsz: 0x63c8,
                filesz: 0x63c8,
                offset: 0x16000,
                prot: Protection::Read,
            },
            Segment {
                vaddr: 0x1dc70,
                memsz: 0x520,
                filesz: 0x518,
                offset: 0x1cc70,
                prot: Protection::ReadWrite,
            },
        ];
        let ranges = protections(&segments, 0x1000).unwrap();
        let got: Vec<_> = (0..4)
            .map(|i| from_file(&segments, i, &ranges, 0x1000, 4))
            .collect();
        assert_eq!(
            got,
            [
                Some((0, 0x3000, 0)),
                Some((0x3000, 0x16000, 0x3000)),
                Some((0x16000, 0x1d000, 0x16000)),
                None,
            ]
        );
        // Sharing a page, or a zero-filled tail, leaves only whole pages.
        let shared = [
            Segment {
                vaddr: 0,
                memsz: 0x5800,
                filesz: 0x5800,
                offset: 0,
                prot: Protection::Read,
            },
            Segment {
                vaddr: 0x5800,
                memsz: 0x6000,
                filesz: 0x6000,
                offset: 0x5800,
                prot: Protection::ReadExecute,
            },
        ];
        let ranges = protections(&shared, 0x1000).unwrap();
        assert_eq!(
            from_file(&shared, 0, &ranges, 0x1000, 4),
            Some((0, 0x5000, 0))
        );
        assert_eq!(
            from_file(&shared, 1, &ranges, 0x1000, 4),
            Some((0x6000, 0xb000, 0x6000))
        );
    }

    fn seg(vaddr: u64, memsz: u64, prot: Protection) -> Segment {
        Segment {
            vaddr,
            memsz,
            filesz: memsz,
            offset: 0,
            prot,
        }
    }

    #[test]
    fn shared_pages_take_the_union() {
        let p = protections(
            &[
                seg(0, 0x1800, Protection::Read),
                seg(0x1800, 0x100, Protection::ReadExecute),
            ],
            0x1000,
        )
        .unwrap();
        assert_eq!(
            p,
            [
                (0, 0x1000, Protection::Read),
                (0x1000, 0x2000, Protection::ReadExecute)
            ]
        );
    }

    #[test]
    fn write_and_execute_on_one_page_is_refused() {
        let r = protections(
            &[
                seg(0, 0x800, Protection::ReadExecute),
                seg(0x800, 0x100, Protection::ReadWrite),
            ],
            0x1000,
        );
        assert!(r.is_err());
    }

    #[test]
    fn relro_splits_a_writable_range() {
        let out = with_read_only(&[(0, 0x4000, Protection::ReadWrite)], 0x1000, 0x2000);
        assert_eq!(
            out,
            [
                (0, 0x1000, Protection::ReadWrite),
                (0x1000, 0x2000, Protection::Read),
                (0x2000, 0x4000, Protection::ReadWrite)
            ]
        );
    }

    #[test]
    fn ranges_already_final_are_left_out() {
        let list = [
            (0, 0x4000, Protection::Read),
            (0x4000, 0x6000, Protection::ReadExecute),
            (0x6000, 0x8000, Protection::Read),
        ];
        assert_eq!(
            without(&list, &[(0x1000, 0x3000), (0x4000, 0x6000)]),
            [
                (0, 0x1000, Protection::Read),
                (0x3000, 0x4000, Protection::Read),
                (0x6000, 0x8000, Protection::Read),
            ]
        );
        assert_eq!(without(&list, &[]), list);
        assert_eq!(uniform(&list, 0x1000, 0x3000), Some(Protection::Read));
        assert_eq!(uniform(&list, 0x3000, 0x5000), None);
    }
}
