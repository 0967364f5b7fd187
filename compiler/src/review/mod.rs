//! Tools around a build, after the pipeline: the review summary of two builds (`diff`) and
//! the deploy plan as a picture (`graph`). They read what the pipeline made (a `Plan`, output
//! trees and the facts in their manifests) and never feed back into it.

pub mod diff;
mod facts;
pub mod graph;
mod rename;
mod report;
mod resources;
mod tree;
