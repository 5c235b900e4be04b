//! The orders objects are relocated, initialised and finalised in: those of
//! glibc's `_dl_sort_maps` (its depth-first algorithm, the default since
//! glibc 2.35), so that libraries see the same order here as under the
//! system's loader, `DT_NEEDED` cycles included. Pure functions of the
//! dependency graph; they touch no table.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// Edges of one object: the objects it depends on, in order.
pub(crate) type Edges<'a> = &'a dyn Fn(u32) -> Vec<u32>;

/// `maps` (objects in load order) sorted so that every object comes before
/// the objects it depends on: the reverse postorder of depth-first walks
/// started from each object, last first, each following `needed` edges in
/// order, then `bound` ones (symbol bindings outside `DT_NEEDED`, glibc's
/// `l_reldeps`) last to first. A cycle is broken where a walk closes it.
/// If any `bound` edge was seen, the result is sorted again on `needed`
/// edges alone, walks starting from its back, so that `DT_NEEDED` order
/// wins over bindings. With `root_first`, the first object is moved to the
/// front afterwards (a `dlopen`ed root stays ahead of a cycle through it).
/// Edges to objects outside `maps` are not followed.
pub(crate) fn dependents_first(
    maps: &[u32],
    needed: Edges<'_>,
    bound: Option<Edges<'_>>,
    root_first: bool,
) -> Vec<u32> {
    let mut walk = Walk {
        position: maps.iter().enumerate().map(|(i, &id)| (id, i)).collect(),
        visited: vec![false; maps.len()],
        postorder: Vec::with_capacity(maps.len()),
        needed,
        bound,
        saw_bound: false,
    };
    for &id in maps.iter().rev() {
        walk.visit(id);
    }
    let mut sorted: Vec<u32> = walk.postorder.iter().rev().copied().collect();
    if walk.saw_bound {
        walk.visited.fill(false);
        walk.postorder.clear();
        walk.bound = None;
        for &id in sorted.iter().rev() {
            walk.visit(id);
        }
        sorted = walk.postorder.iter().rev().copied().collect();
    }
    if root_first {
        if let Some(&root) = maps.first() {
            sorted.retain(|&id| id != root);
            sorted.insert(0, root);
        }
    }
    sorted
}

/// The state of the depth-first walks.
struct Walk<'e> {
    /// Index in the input of each object.
    position: BTreeMap<u32, usize>,
    visited: Vec<bool>,
    postorder: Vec<u32>,
    needed: Edges<'e>,
    bound: Option<Edges<'e>>,
    saw_bound: bool,
}

impl Walk<'_> {
    /// The depth-first walk from `id`, with a heap stack of frames (the
    /// object and the edges it has left to follow) instead of recursion:
    /// a `DT_NEEDED` chain of any length needs no more machine stack than
    /// one of two objects. Visits in the order the recursive walk would:
    /// `needed` edges in order, then `bound` ones last to first, the object
    /// itself after all of them.
    fn visit(&mut self, id: u32) {
        let mut stack: Vec<(u32, Vec<u32>)> = Vec::new();
        if let Some(frame) = self.enter(id) {
            stack.push(frame);
        }
        while let Some((current, edges)) = stack.last_mut() {
            if let Some(next) = edges.pop() {
                if let Some(frame) = self.enter(next) {
                    stack.push(frame);
                }
            } else {
                self.postorder.push(*current);
                stack.pop();
            }
        }
    }

    /// Marks `id` visited and returns its frame: the edges to follow,
    /// reversed (the next one last); `None` if it is outside the maps or
    /// was visited already.
    fn enter(&mut self, id: u32) -> Option<(u32, Vec<u32>)> {
        let &at = self.position.get(&id)?;
        if self.visited[at] {
            return None;
        }
        self.visited[at] = true;
        let mut edges = (self.needed)(id);
        if let Some(bound) = self.bound {
            let targets = bound(id);
            if !targets.is_empty() {
                self.saw_bound = true;
            }
            // Followed last to first, after the needed edges.
            edges.extend(targets.iter().rev());
        }
        edges.reverse();
        Some((id, edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges<'a>(graph: &'a [(u32, &'a [u32])]) -> impl Fn(u32) -> Vec<u32> + 'a {
        move |id| {
            graph
                .iter()
                .find(|(from, _)| *from == id)
                .map(|(_, to)| to.to_vec())
                .unwrap_or_default()
        }
    }

    #[test]
    fn dependencies_come_after_their_users() {
        // root needs a and b; a needs c (glibc initialises c, b, a, root).
        let graph: &[(u32, &[u32])] = &[(0, &[1, 2]), (1, &[3])];
        let needed = edges(graph);
        assert_eq!(
            dependents_first(&[0, 1, 2, 3], &needed, None, true),
            [0, 1, 2, 3]
        );
        let init: Vec<u32> = dependents_first(&[0, 1, 2, 3], &needed, None, true)
            .into_iter()
            .rev()
            .collect();
        assert_eq!(init, [3, 2, 1, 0]);
    }

    #[test]
    fn a_cycle_is_broken_deterministically() {
        // a (0) needs b (1) and b needs a: glibc initialises b then a when
        // a is opened, and finalises b then a.
        let graph: &[(u32, &[u32])] = &[(0, &[1]), (1, &[0])];
        let needed = edges(graph);
        assert_eq!(dependents_first(&[0, 1], &needed, None, true), [0, 1]);
        assert_eq!(dependents_first(&[0, 1], &needed, None, false), [1, 0]);
    }

    #[test]
    fn a_deep_graph_needs_no_deep_stack() {
        extern crate std;
        // Each object needs the one loaded before it: the walk from the
        // last goes 100 000 objects deep, on a 64 KiB stack.
        let sorted = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(|| {
                let maps: Vec<u32> = (0..100_000).collect();
                let needed = |id: u32| -> Vec<u32> { id.checked_sub(1).into_iter().collect() };
                let bound = |id: u32| -> Vec<u32> { (id == 7).then_some(3).into_iter().collect() };
                dependents_first(&maps, &needed, Some(&bound), false)
            })
            .expect("spawn")
            .join()
            .expect("no stack overflow");
        let expected: Vec<u32> = (0..100_000).rev().collect();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn needed_edges_win_over_bindings() {
        // 1 needs 0 and bound a symbol of 2, which bound one of 1.
        let needed_graph: &[(u32, &[u32])] = &[(1, &[0])];
        let bound_graph: &[(u32, &[u32])] = &[(1, &[2]), (2, &[1])];
        let needed = edges(needed_graph);
        let bound = edges(bound_graph);
        let sorted = dependents_first(&[0, 1, 2], &needed, Some(&bound), false);
        let at = |id| sorted.iter().position(|&x| x == id).unwrap();
        assert!(at(1) < at(0), "{sorted:?}");
        assert_eq!(sorted.len(), 3);
    }
}
