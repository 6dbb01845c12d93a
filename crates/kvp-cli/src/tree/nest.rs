//! Putting every span and event under its parent: by ids (ours), by time
//! containment (azure-init, cloud-init), and marking the path to the first
//! error.
//!
//! A file can hold a chain of parents thousands deep, or thousands of
//! spans nested by time, so every step works on flat arrays of parent
//! indices, in linear or `n log n` time, with no recursion; the nested
//! nodes are made last, bottom-up.

use std::collections::HashMap;

use crate::dialect::{Nesting, Parsed, cloud_init};
use crate::model::{Event, Node, Span, Status};
use crate::time::Time;

/// A span or event waiting for its place.
enum Loose {
    Span(Span),
    Event(Event),
}

impl Loose {
    fn time(&self) -> Option<&Time> {
        match self {
            Loose::Span(s) => s.start.as_ref(),
            Loose::Event(e) => e.time.as_ref(),
        }
    }

    fn index(&self) -> usize {
        match self {
            Loose::Span(s) => s.index,
            Loose::Event(e) => e.index,
        }
    }
}

/// Puts every span and event under its parent, the first error's path
/// marked.
pub(crate) fn nest(parsed: Vec<Parsed>) -> Vec<Node> {
    let mut loose: Vec<Loose> = Vec::new();
    // Where each record goes: a parent in `loose`, an unknown span id, or
    // the roots.
    let mut by_id: Vec<Option<String>> = Vec::new();
    let mut timed: Vec<bool> = Vec::new();
    let mut opens = Vec::new();
    let mut marks = Vec::new();
    for p in parsed {
        let (item, nesting) = match p {
            Parsed::Span(s, n) => (Loose::Span(s), n),
            Parsed::Event(e, n) => (Loose::Event(e), n),
            Parsed::Open(s) => {
                opens.push(s);
                continue;
            }
            Parsed::CloudInit(m) => {
                marks.push(m);
                continue;
            }
        };
        loose.push(item);
        match nesting {
            Nesting::ById(id) => {
                by_id.push(id);
                timed.push(false);
            }
            Nesting::ByTime => {
                by_id.push(None);
                timed.push(true);
            }
        }
    }
    let (ci_spans, ci_events) = cloud_init::pair(marks);
    for s in ci_spans {
        loose.push(Loose::Span(s));
        by_id.push(None);
        timed.push(true);
    }
    for e in ci_events {
        loose.push(Loose::Event(e));
        by_id.push(None);
        timed.push(true);
    }
    // An open record stands for its span only when the span never closed.
    let closed = span_ids(&loose);
    for mut s in opens {
        if s.id.as_ref().is_some_and(|id| closed.contains_key(id)) {
            continue;
        }
        let parent = match s.fields.first() {
            Some((name, _)) if name == "parent" => Some(s.fields.remove(0).1),
            _ => None,
        };
        loose.push(Loose::Span(s));
        by_id.push(parent);
        timed.push(false);
    }
    let ids = span_ids(&loose);

    let parents = time_parents(&loose, &timed);
    let mut parent: Vec<Option<usize>> = vec![None; loose.len()];
    let mut unknown: Vec<Option<String>> = vec![None; loose.len()];
    for i in 0..loose.len() {
        if timed[i] {
            parent[i] = parents[i];
        } else if let Some(id) = &by_id[i] {
            match ids.get(id) {
                Some(&p) if p != i => parent[i] = Some(p),
                Some(_) => {}
                // A span whose parent is not in the pool is a root; an event
                // whose span is not is grouped under that span's id.
                None if matches!(loose[i], Loose::Event(_)) => unknown[i] = Some(id.clone()),
                None => {}
            }
        }
    }
    break_cycles(&mut parent);
    let error_group = mark_first_error(&mut loose, &parent, &unknown);
    assemble(loose, &parent, &unknown, error_group.as_deref())
}

/// Where each span with an id is in `loose`.
fn span_ids(loose: &[Loose]) -> HashMap<String, usize> {
    loose
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l {
            Loose::Span(s) => s.id.clone().map(|id| (id, i)),
            Loose::Event(_) => None,
        })
        .collect()
}

/// For records nested by time: the innermost timed span that holds each.
///
/// A span holds another whose interval lies within its own; of two with the
/// same interval, the one whose record comes later (it closed later) holds
/// the other. One sweep in start order with a stack of the spans still
/// holding: a span's parent is the innermost of them that holds it, and an
/// event's the innermost that holds its time, or the innermost of those
/// with the event's own name (azure-init names an event after its span).
fn time_parents(loose: &[Loose], timed: &[bool]) -> Vec<Option<usize>> {
    let interval = |i: usize| match &loose[i] {
        Loose::Span(s) => match (&s.start, &s.end) {
            (Some(a), Some(b)) => Some((a.micros, b.micros)),
            (Some(a), None) => Some((a.micros, i64::MAX)),
            _ => None,
        },
        Loose::Event(_) => None,
    };
    let holds = |outer: usize, inner: (i64, i64), inner_index: usize| -> bool {
        let Some((a0, a1)) = interval(outer) else {
            return false;
        };
        a0 <= inner.0 && inner.1 <= a1 && ((a0, a1) != inner || loose[outer].index() > inner_index)
    };
    // The sweep's order: by start; at one start, spans before events (an
    // event at a span's start is inside it), outer spans before inner ones
    // (later end, then later record).
    let mut order: Vec<(i64, u8, i64, usize, usize)> = Vec::new();
    for i in (0..loose.len()).filter(|&i| timed[i]) {
        match &loose[i] {
            Loose::Span(_) => {
                if let Some((a, b)) = interval(i) {
                    order.push((a, 0, -b, usize::MAX - loose[i].index(), i));
                }
            }
            Loose::Event(e) => {
                if let Some(t) = &e.time {
                    order.push((t.micros, 1, 0, 0, i));
                }
            }
        }
    }
    order.sort_unstable();
    let mut parent = vec![None; loose.len()];
    // The spans that may still hold what comes, outermost first, and for
    // each name the positions in it of the spans of that name.
    let mut open: Vec<usize> = Vec::new();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let pop = |open: &mut Vec<usize>, by_name: &mut HashMap<&str, Vec<usize>>| {
        if let Some(i) = open.pop()
            && let Loose::Span(s) = &loose[i]
            && let Some(positions) = by_name.get_mut(s.name.as_str())
        {
            positions.pop();
        }
    };
    for &(_, kind, _, _, i) in &order {
        if kind == 0 {
            let Some(me) = interval(i) else { continue };
            while let Some(&top) = open.last() {
                if holds(top, me, loose[i].index()) {
                    break;
                }
                pop(&mut open, &mut by_name);
            }
            parent[i] = open.last().copied();
            if let Loose::Span(s) = &loose[i] {
                by_name.entry(s.name.as_str()).or_default().push(open.len());
            }
            open.push(i);
        } else if let Loose::Event(e) = &loose[i] {
            let t = e.time.as_ref().map_or(i64::MIN, |t| t.micros);
            while let Some(&top) = open.last() {
                if interval(top).is_some_and(|(_, end)| t <= end) {
                    break;
                }
                pop(&mut open, &mut by_name);
            }
            let same_name = by_name
                .get(e.name.as_str())
                .and_then(|positions| positions.last())
                .map(|&at| open[at]);
            parent[i] = same_name.or_else(|| open.last().copied());
        }
    }
    parent
}

/// Ids written by a broken or hostile writer can make a loop of parents;
/// the record that closes the loop becomes a root, so nothing is lost.
/// Each record is walked once.
fn break_cycles(parent: &mut [Option<usize>]) {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; parent.len()];
    let mut path = Vec::new();
    for start in 0..parent.len() {
        let mut at = start;
        while state[at] == NEW {
            state[at] = ON_PATH;
            path.push(at);
            match parent[at] {
                Some(p) if state[p] == ON_PATH => {
                    parent[at] = None;
                    break;
                }
                Some(p) => at = p,
                None => break,
            }
        }
        for i in path.drain(..) {
            state[i] = DONE;
        }
    }
}

/// Marks the first ERROR event (the earliest; by record order on a tie)
/// and the spans above it. With no ERROR event, the first span that ended
/// in error and holds no such span is the failure. Returns the id of the
/// unknown span whose group holds it, if one does.
fn mark_first_error(
    loose: &mut [Loose],
    parent: &[Option<usize>],
    unknown: &[Option<String>],
) -> Option<String> {
    let key = |t: Option<&Time>, index: usize| (t.map_or(i64::MAX, |t| t.micros), index);
    let first_event = (0..loose.len())
        .filter(|&i| matches!(&loose[i], Loose::Event(e) if e.level == "ERROR"))
        .min_by_key(|&i| key(loose[i].time(), loose[i].index()));
    let failed = first_event.or_else(|| {
        // Error spans that hold an error span are not the failure.
        let mut holds_error = vec![false; loose.len()];
        for i in 0..loose.len() {
            if matches!(&loose[i], Loose::Span(s) if s.status == Status::Error) {
                let mut at = parent[i];
                while let Some(p) = at {
                    if holds_error[p] {
                        break;
                    }
                    holds_error[p] = true;
                    at = parent[p];
                }
            }
        }
        (0..loose.len())
            .filter(|&i| {
                !holds_error[i] && matches!(&loose[i], Loose::Span(s) if s.status == Status::Error)
            })
            .min_by_key(|&i| match &loose[i] {
                Loose::Span(s) => key(s.end.as_ref(), s.index),
                Loose::Event(_) => (i64::MAX, usize::MAX),
            })
    })?;
    let mut at = Some(failed);
    let mut top = failed;
    while let Some(i) = at {
        match &mut loose[i] {
            Loose::Span(s) => s.on_error_path = true,
            Loose::Event(e) => e.first_error = true,
        }
        top = i;
        at = parent[i];
    }
    unknown[top].clone()
}

/// Turns the parent links into owned nodes, children in time order, built
/// bottom-up so that no depth costs stack.
fn assemble(
    loose: Vec<Loose>,
    parent: &[Option<usize>],
    unknown: &[Option<String>],
    error_group: Option<&str>,
) -> Vec<Node> {
    let n = loose.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for i in 0..n {
        match (parent[i], &unknown[i]) {
            (Some(p), _) => children[p].push(i),
            (None, Some(id)) => match group_of.get(id.as_str()) {
                Some(&g) => groups[g].1.push(i),
                None => {
                    group_of.insert(id.as_str(), groups.len());
                    groups.push((id.clone(), vec![i]));
                }
            },
            (None, None) => roots.push(i),
        }
    }
    let time_key = |i: usize| {
        (
            loose[i].time().map_or(i64::MAX, |t| t.micros),
            loose[i].index(),
        )
    };
    for list in &mut children {
        list.sort_by_key(|&i| time_key(i));
    }
    roots.sort_by_key(|&i| time_key(i));
    for (_, members) in &mut groups {
        members.sort_by_key(|&i| time_key(i));
    }
    // Post-order from every root: each node after its children.
    let mut post = Vec::with_capacity(n);
    let mut stack: Vec<(usize, bool)> = Vec::new();
    let starts = roots
        .iter()
        .chain(groups.iter().flat_map(|(_, m)| m.iter()))
        .copied();
    for start in starts {
        stack.push((start, false));
        while let Some((i, expanded)) = stack.pop() {
            if expanded {
                post.push(i);
            } else {
                stack.push((i, true));
                stack.extend(children[i].iter().rev().map(|&c| (c, false)));
            }
        }
    }
    let mut slots: Vec<Option<Loose>> = loose.into_iter().map(Some).collect();
    let mut built: Vec<Option<Node>> = (0..n).map(|_| None).collect();
    for i in post {
        let Some(item) = slots[i].take() else {
            continue;
        };
        built[i] = Some(match item {
            Loose::Event(e) => Node::Event(e),
            Loose::Span(mut s) => {
                s.children = children[i]
                    .iter()
                    .filter_map(|&c| built[c].take())
                    .collect();
                Node::Span(s)
            }
        });
    }
    let mut out: Vec<Node> = roots.iter().filter_map(|&r| built[r].take()).collect();
    for (id, members) in groups {
        let on_error_path = error_group == Some(id.as_str());
        let children = members.iter().filter_map(|&m| built[m].take()).collect();
        out.push(Node::UnknownSpan {
            id,
            children,
            on_error_path,
        });
    }
    out
}
