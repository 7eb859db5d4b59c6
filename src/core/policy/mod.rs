//! IAM policies: the documents (parse, compare), the ones the tool wants, IAM's evaluation of
//! them, doctor's questions about them, and `policy --create`'s plan.

pub(crate) mod conditions;
pub(crate) mod diagnose;
pub mod document;
pub(crate) mod evaluate;
pub(crate) mod fit;
pub(crate) mod generate;
pub(crate) mod plan;
pub(crate) mod repair;
pub(crate) mod request;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_evaluate;
#[cfg(test)]
mod tests_match;
