//! The shared whiteboard of a co-browse session (docs/cobrowse.md,
//! "Whiteboard"): shapes either side draws, over the page or on a blank
//! board, kept by the session so a view that joins late, a console reload or
//! the visitor's next page shows them at once, and stored with the contact.
//!
//! Points are fractions of the board (0 to 1 on each axis), so the visitor's
//! viewport and the agent's smaller view draw the same picture.

use serde::{Deserialize, Serialize};

use super::{Session, frames::ToAgent, frames::ToVisitor};
use crate::protocol::{ErrorCode, FrameError, encode};

/// Points in one shape (a freehand stroke is sampled at display rate).
pub const MAX_POINTS: usize = 2000;
/// Shapes a board holds; past it, the drawer is told to clear it.
pub const MAX_SHAPES: usize = 500;
/// Points a board holds in all.
pub const MAX_BOARD_POINTS: usize = 100_000;
/// Characters in a text shape.
pub const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    /// Freehand: a polyline through its points.
    Pen,
    /// From the first point to the second, with a head.
    Arrow,
    /// The box between two corners.
    Rect,
    /// `text` at its one point.
    Text,
}

/// One shape as both sides draw it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Shape {
    pub k: ShapeKind,
    pub pts: Vec<[f64; 2]>,
    /// `#rrggbb`.
    pub c: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Shape {
    /// Checks the shape's points, colour and text.
    ///
    /// # Errors
    /// `invalid`, naming what is wrong.
    pub fn check(&self) -> Result<(), FrameError> {
        let invalid = |what: &str| Err(FrameError::new(ErrorCode::Invalid, what.to_owned()));
        let wanted = match self.k {
            ShapeKind::Pen => 1..=MAX_POINTS,
            ShapeKind::Arrow | ShapeKind::Rect => 2..=2,
            ShapeKind::Text => 1..=1,
        };
        if !wanted.contains(&self.pts.len()) {
            return invalid(&format!(
                "a {:?} shape has {}..={} points",
                self.k,
                wanted.start(),
                wanted.end()
            ));
        }
        if !self
            .pts
            .iter()
            .flatten()
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v))
        {
            return invalid("whiteboard points are fractions of the board, 0 to 1");
        }
        let c = self.c.as_bytes();
        if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
            return invalid("a colour is #rrggbb");
        }
        match (&self.text, self.k) {
            (Some(t), ShapeKind::Text) if !t.is_empty() && t.chars().count() <= MAX_TEXT => Ok(()),
            (_, ShapeKind::Text) => invalid(&format!("a text shape has 1..={MAX_TEXT} characters")),
            (Some(_), _) => invalid("only a text shape has text"),
            (None, _) => Ok(()),
        }
    }
}

/// A session's whiteboard.
#[derive(Debug, Default)]
pub(super) struct Board {
    show: bool,
    blank: bool,
    shapes: Vec<Shape>,
    points: usize,
}

/// What changed on the board.
pub(super) enum Change {
    Draw(Shape),
    Clear,
    Show { show: bool, blank: bool },
}

/// Who changed it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Visitor,
    Agent,
}

impl Board {
    /// The board for a view that was not there: `None` while it is empty and hidden.
    pub(super) fn for_agent(&self) -> Option<ToAgent> {
        (self.show || !self.shapes.is_empty()).then(|| ToAgent::Board {
            show: self.show,
            blank: self.blank,
            shapes: self.shapes.clone(),
        })
    }

    pub(super) fn for_visitor(&self) -> Option<ToVisitor> {
        (self.show || !self.shapes.is_empty()).then(|| ToVisitor::Board {
            show: self.show,
            blank: self.blank,
            shapes: self.shapes.clone(),
        })
    }
}

impl Session {
    /// A whiteboard change from one side, once the page is shared: kept,
    /// shown to the other side and recorded with the contact.
    pub(super) fn board_change(&mut self, side: Side, change: Change) -> Result<(), FrameError> {
        if !self.sharing {
            return Err(super::CobrowseError::NotSharing.into());
        }
        let actor = match side {
            Side::Visitor => "visitor",
            Side::Agent => "agent",
        };
        let (to_visitor, to_agent) = match change {
            Change::Draw(shape) => {
                let board = &mut self.board;
                if board.shapes.len() >= MAX_SHAPES
                    || board.points + shape.pts.len() > MAX_BOARD_POINTS
                {
                    return Err(FrameError::new(
                        ErrorCode::TooLarge,
                        format!("the whiteboard holds {MAX_SHAPES} shapes; clear it first"),
                    ));
                }
                board.points += shape.pts.len();
                board.shapes.push(shape.clone());
                // Shown with the shape: a drawing on a hidden board would be lost.
                board.show = true;
                self.note(
                    actor,
                    "draw",
                    serde_json::to_string(&shape).unwrap_or_default(),
                );
                (
                    ToVisitor::Draw {
                        shape: shape.clone(),
                    },
                    ToAgent::Draw { shape },
                )
            }
            Change::Clear => {
                self.board.shapes.clear();
                self.board.points = 0;
                self.note(actor, "clear", String::new());
                (ToVisitor::Clear, ToAgent::Clear)
            }
            Change::Show { show, blank } => {
                self.board.show = show;
                self.board.blank = blank;
                (
                    self.board.for_visitor().unwrap_or(ToVisitor::Board {
                        show,
                        blank,
                        shapes: Vec::new(),
                    }),
                    self.board.for_agent().unwrap_or(ToAgent::Board {
                        show,
                        blank,
                        shapes: Vec::new(),
                    }),
                )
            }
        };
        let text = encode(&to_agent);
        self.tell_watchers(&text);
        match side {
            Side::Visitor => self.tell_agent(text),
            Side::Agent => self.tell_visitor(&to_visitor),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(k: ShapeKind, pts: &[[f64; 2]], text: Option<&str>) -> Shape {
        Shape {
            k,
            pts: pts.to_vec(),
            c: "#ff4f8b".into(),
            text: text.map(str::to_owned),
        }
    }

    #[test]
    fn shapes_are_checked() {
        assert!(
            shape(ShapeKind::Rect, &[[0.1, 0.1], [0.5, 0.5]], None)
                .check()
                .is_ok()
        );
        assert!(
            shape(ShapeKind::Text, &[[0.1, 0.1]], Some("here"))
                .check()
                .is_ok()
        );
        assert!(shape(ShapeKind::Pen, &[[0.0, 1.0]], None).check().is_ok());
        for bad in [
            shape(ShapeKind::Rect, &[[0.1, 0.1]], None),
            shape(ShapeKind::Arrow, &[[0.1, 0.1], [0.2, 2.0]], None),
            shape(ShapeKind::Pen, &[[f64::NAN, 0.1]], None),
            shape(ShapeKind::Pen, &[], None),
            shape(ShapeKind::Text, &[[0.1, 0.1]], None),
            shape(
                ShapeKind::Text,
                &[[0.1, 0.1]],
                Some(&"x".repeat(MAX_TEXT + 1)),
            ),
            shape(ShapeKind::Pen, &[[0.1, 0.1]], Some("no")),
        ] {
            assert_eq!(bad.check().unwrap_err().code, ErrorCode::Invalid, "{bad:?}");
        }
        let mut red = shape(ShapeKind::Pen, &[[0.1, 0.1]], None);
        red.c = "red;background:url(x)".into();
        assert!(red.check().is_err());
    }
}
