//! `nnt fmt`: the canonical layout of a recipe.
//!
//! Canonical means: top-level items in the order of the specification's §3 table
//! (unknown items last, in source order), four-space indentation inside sections,
//! one item or entry per line, `name = value` with single spaces, every call and
//! list on one line, a blank line around each section, at most one blank line
//! between entries where the source had any. Comments are kept: a comment on the
//! same line as an item or entry stays behind it, any other comment moves with the
//! item or entry that follows it, and a comment block at the top of the file that
//! is separated from the first item by a blank line stays at the top.
//!
//! A UTF-8 byte-order mark is accepted, as `nnt check` accepts it, and dropped:
//! the canonical text is UTF-8 without one (so `fmt --check` reports a file that
//! starts with one).
//!
//! Formatting only moves whole top-level items (whose order has no meaning) and
//! re-spaces tokens, so the formatted recipe means exactly the same. It is
//! idempotent: formatting its own output changes nothing.
//!
//! This module knows the syntax alone: the canonical order of the top-level
//! items comes in as `order` (the declarations' order,
//! `check::catalog::canonical_order`), and a recipe that does not parse is
//! `None`, for the caller to report (`cli::format` passes the order in and
//! shows the checker's diagnostic). So `check`, which logs the recipe in this
//! layout (§18 `config`), can use it without an import cycle.

use crate::ast::{Comment, Entry, Item, Recipe, SourceId, Span};
use crate::syntax;

/// The canonical text of the recipe `bytes`, top-level items in `order`; `None`
/// when it is not UTF-8 or does not parse.
pub fn format_text(bytes: &[u8], order: &[&str]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    // A byte-order mark is not part of the recipe (as in `nnt check`): it is
    // blanked out for parsing, keeping offsets, and the canonical text has none.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => std::borrow::Cow::Owned(format!("   {rest}")),
        None => std::borrow::Cow::Borrowed(text),
    };
    let recipe = syntax::parse(&text, SourceId::RECIPE).ok()?;
    Some(format_ast(&recipe, &text, order))
}

/// A recipe's canonical layout without its comments and without the source's blank
/// lines: text that depends only on what the recipe means (to compare recipes).
/// `nnt fmt` leaves it as it is.
pub fn config_text(recipe: &Recipe, order: &[&str]) -> String {
    let bare = Recipe {
        items: recipe.items.clone(),
        comments: Vec::new(),
    };
    format_ast(&bare, "", order)
}

/// Renders a parsed recipe, top-level items in `order` (unknown ones last);
/// `text` is the source it was parsed from (for line positions of comments).
pub fn format_ast(recipe: &Recipe, text: &str, order: &[&str]) -> String {
    let lines = LineIndex::new(text);
    let mut comments: Vec<Placed> = recipe
        .comments
        .iter()
        .filter(|c| c.span.source == SourceId::RECIPE)
        .map(|c| Placed {
            comment: c,
            used: false,
        })
        .collect();
    // In source order, so that the comments in a range of offsets are a range
    // of this list (`within`): each item and entry looks only at its own, and a
    // recipe of many items formats in linear time, not quadratic.
    comments.sort_by_key(|c| c.comment.span.start);
    // Where each top-level item ends, in source order (items do not overlap).
    let mut ends: Vec<usize> = recipe.items.iter().map(|i| i.span().end).collect();
    ends.sort_unstable();

    let mut out = String::new();

    // A comment block before the first item, separated from it by a blank line,
    // is the file's header and stays first.
    let first_start = recipe
        .items
        .iter()
        .map(|i| i.span().start)
        .min()
        .unwrap_or(text.len());
    let first_line = lines.line(first_start);
    let before_first: Vec<usize> = comments
        .iter()
        .enumerate()
        .filter(|(_, c)| c.comment.span.start < first_start)
        .map(|(i, _)| i)
        .collect();
    // The header ends at the last blank line before the first item: the
    // comments after that blank line lead the first item (wherever the
    // canonical order puts it). Cutting at the last blank line, not only at one
    // right before the item, keeps the layout a fixed point: once an item with
    // its own leading comments has been moved first, formatting again finds
    // the same header.
    let header_len = if recipe.items.is_empty() {
        before_first.len()
    } else {
        let line_of = |j: usize| lines.line(comments[before_first[j]].comment.span.start);
        (0..before_first.len())
            .rev()
            .find(|&j| {
                let next = if j + 1 < before_first.len() {
                    line_of(j + 1)
                } else {
                    first_line
                };
                lines.blank_between(line_of(j), next)
            })
            .map_or(0, |j| j + 1)
    };
    for &i in &before_first[..header_len] {
        push_comment(&mut out, "", comments[i].comment);
        comments[i].used = true;
    }

    // Top-level items in the canonical order of §3, from their declarations.
    let mut items: Vec<&Item> = recipe.items.iter().collect();
    items.sort_by_key(|item| {
        order
            .iter()
            .position(|n| *n == item.name().name)
            .unwrap_or(order.len())
    });

    let mut prev_was_section = None::<bool>;
    for item in items {
        let is_section = matches!(item, Item::Section(_));
        // Leading comments are those after the item that precedes it in the
        // source, whatever the canonical order puts before it.
        let before = ends.partition_point(|&end| end <= item.span().start);
        let lower = before.checked_sub(1).map_or(0, |i| ends[i]);
        // A comment on the line where that item ends is its trailing comment.
        let prev_line = (lower > 0).then(|| lines.line(lower - 1));
        let hoist_inside = !is_section;
        let leading = take_leading(
            &mut comments,
            &lines,
            item.span(),
            lower,
            prev_line,
            hoist_inside,
        );
        let needs_blank = match prev_was_section {
            None => !out.is_empty(),
            Some(prev) => prev || is_section || !leading.is_empty(),
        };
        if needs_blank {
            out.push('\n');
        }
        for c in leading {
            push_comment(&mut out, "", c);
        }
        match item {
            Item::Setting(s) => {
                out.push_str(&format!("{} = {}", s.name.name, s.value));
                push_trailing(&mut out, &mut comments, &lines, s.span);
                out.push('\n');
            }
            Item::Section(sec) => {
                let open_line = lines.line(sec.name.span.start);
                if sec.entries.is_empty() && !has_comments_in(&comments, sec.span) {
                    out.push_str(&format!("{} {{}}", sec.name.name));
                    push_trailing(&mut out, &mut comments, &lines, sec.span);
                    out.push('\n');
                } else {
                    out.push_str(&format!("{} {{", sec.name.name));
                    // A comment behind the `{` stays there.
                    push_trailing_on_line(&mut out, &mut comments, &lines, open_line, sec.span);
                    out.push('\n');
                    let mut prev_end_line: Option<usize> = None;
                    for entry in &sec.entries {
                        let span = entry.span();
                        let leading = take_leading(
                            &mut comments,
                            &lines,
                            span,
                            sec.span.start,
                            Some(open_line),
                            true,
                        );
                        let start_line = leading
                            .first()
                            .map(|c| lines.line(c.span.start))
                            .unwrap_or_else(|| lines.line(span.start));
                        if let Some(prev) = prev_end_line {
                            if lines.blank_between(prev, start_line) {
                                out.push('\n');
                            }
                        }
                        for c in leading {
                            push_comment(&mut out, "    ", c);
                        }
                        out.push_str("    ");
                        match entry {
                            Entry::Setting(s) => {
                                out.push_str(&format!("{} = {}", s.name.name, s.value))
                            }
                            Entry::Layer(e) => out.push_str(&e.to_string()),
                        }
                        push_trailing(&mut out, &mut comments, &lines, span);
                        out.push('\n');
                        prev_end_line =
                            Some(lines.line(span.end.saturating_sub(1).max(span.start)));
                    }
                    // Comments after the last entry, before the closing brace.
                    let inside = within(&comments, sec.span.start, sec.span.end);
                    let rest: Vec<&Comment> = comments[inside]
                        .iter_mut()
                        .filter(|c| !c.used)
                        .map(|c| {
                            c.used = true;
                            c.comment
                        })
                        .collect();
                    for c in rest {
                        push_comment(&mut out, "    ", c);
                    }
                    out.push('}');
                    push_trailing(&mut out, &mut comments, &lines, sec.span);
                    out.push('\n');
                }
            }
        }
        prev_was_section = Some(is_section);
    }

    // Whatever is left (comments after the last item) closes the file.
    let rest: Vec<&Comment> = comments
        .iter()
        .filter(|c| !c.used)
        .map(|c| c.comment)
        .collect();
    if !rest.is_empty() && !out.is_empty() {
        out.push('\n');
    }
    for c in rest {
        push_comment(&mut out, "", c);
    }
    out
}

struct Placed<'a> {
    comment: &'a Comment,
    used: bool,
}

fn push_comment(out: &mut String, indent: &str, c: &Comment) {
    out.push_str(indent);
    out.push('#');
    out.push_str(c.text.trim_end());
    out.push('\n');
}

fn has_comments_in(comments: &[Placed], span: Span) -> bool {
    comments[within(comments, span.start, span.end)]
        .iter()
        .any(|c| !c.used)
}

/// The indices of the comments (sorted by where they start) that start in
/// `from..to`.
fn within(comments: &[Placed], from: usize, to: usize) -> std::ops::Range<usize> {
    let first = comments.partition_point(|c| c.comment.span.start < from);
    let end = comments.partition_point(|c| c.comment.span.start < to);
    first..end.max(first)
}

/// The unused comments that stand between `lower` and `span` (except on
/// `skip_line`), plus, with `hoist_inside`, comments inside `span` that are not
/// on its last line (a call spanning lines is written on one line): they move in
/// front of the node, in source order.
fn take_leading<'a>(
    comments: &mut [Placed<'a>],
    lines: &LineIndex,
    span: Span,
    lower: usize,
    skip_line: Option<usize>,
    hoist_inside: bool,
) -> Vec<&'a Comment> {
    let end_line = lines.line(span.end.saturating_sub(1).max(span.start));
    let mut taken = Vec::new();
    // Only comments from `lower` to the end of `span` can be taken.
    let candidates = within(comments, lower.min(span.start), span.end.max(span.start));
    for c in &mut comments[candidates] {
        if c.used {
            continue;
        }
        let at = c.comment.span.start;
        let before = at >= lower && at < span.start;
        let inside_not_last =
            hoist_inside && at >= span.start && at < span.end && lines.line(at) != end_line;
        // Comments behind a section's `{` are that line's trailing comment.
        if skip_line == Some(lines.line(at)) {
            continue;
        }
        if before || inside_not_last {
            c.used = true;
            taken.push(c.comment);
        }
    }
    taken
}

/// A comment that starts on the last line of `span`, after it, is kept behind it.
fn push_trailing(out: &mut String, comments: &mut [Placed], lines: &LineIndex, span: Span) {
    let end_line = lines.line(span.end.saturating_sub(1).max(span.start));
    push_trailing_on_line(out, comments, lines, end_line, span);
}

fn push_trailing_on_line(
    out: &mut String,
    comments: &mut [Placed],
    lines: &LineIndex,
    line: usize,
    span: Span,
) {
    let on_line = within(
        comments,
        span.start.max(lines.line_start(line)),
        lines.line_start(line + 1),
    );
    for c in &mut comments[on_line] {
        if !c.used && lines.line(c.comment.span.start) == line && c.comment.span.start >= span.start
        {
            c.used = true;
            out.push_str("  #");
            out.push_str(c.comment.text.trim_end());
        }
    }
}

/// Line numbers of byte offsets.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, starts }
    }

    /// 0-based line of an offset.
    /// Where line `l` starts (the text's length past the last line).
    fn line_start(&self, l: usize) -> usize {
        self.starts.get(l).copied().unwrap_or(self.text.len() + 1)
    }

    fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Whether a blank line stands strictly between lines `a` and `b`.
    fn blank_between(&self, a: usize, b: usize) -> bool {
        (a + 1..b).any(|l| {
            let start = self.starts[l];
            let end = self.starts.get(l + 1).copied().unwrap_or(self.text.len());
            self.text[start..end].trim().is_empty()
        })
    }
}
