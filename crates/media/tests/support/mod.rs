//! Helpers shared by media tests.
pub mod tone;
