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
    fn visit(&mut self, id: u32) {
        let Some(&at) = self.position.get(&id) else {
            return;
        };
        if self.visited[at] {
            return;
        }
        self.visited[at] = true;
        for dep in (self.needed)(id) {
            self.visit(dep);
        }
        if let Some(bound) = self.bound {
            let targets = bound(id);
            if !targets.is_empty() {
                self.saw_bound = true;
            }
            for &dep in targets.iter().rev() {
                self.visit(dep);
            }
        }
        self.postorder.push(id);
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
