//! IAM policies: the documents (parse, compare), the ones the tool wants, IAM's evaluation of
//! them, doctor's questions about them, and `policy --create`'s plan.

pub mod diagnose;
pub mod document;
pub mod evaluate;
pub mod generate;
pub mod plan;

#[cfg(test)]
mod tests;
