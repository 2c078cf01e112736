//! FAQ loading and matching (being written).
