//! A pool's records as a tree: each record read by its writer's dialect
//! ([`crate::dialect`]), then nested ([`super::nest`]).

use crate::dialect::{Classified, classify};
use crate::model::Tree;
use crate::records::Item;

impl Tree {
    /// Builds the tree from a pool's display items.
    pub(crate) fn build(items: &[Item]) -> Tree {
        let mut tree = Tree::default();
        let mut parsed = Vec::new();
        for item in items {
            match item {
                Item::Error { .. } => tree.unreadable += 1,
                Item::Record {
                    index, key, value, ..
                } => match classify(*index, key, value) {
                    Classified::Report => tree.report = Some(value.clone()),
                    Classified::Metric(_) => tree.metrics += 1,
                    Classified::Other => tree.other += 1,
                    Classified::Parsed(p) => parsed.push(*p),
                },
            }
        }
        tree.roots = super::nest::nest(parsed);
        tree
    }
}
