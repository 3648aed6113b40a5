//! Memory-store churn results and their table. Being written.
