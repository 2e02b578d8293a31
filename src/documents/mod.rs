//! Contract documents. `text` renders the German contract texts of `contracts/` with the
//! registry's data; the PDF layout and the PAdES seal build on it (contract-documents issue).

pub mod pdf;
pub mod text;
