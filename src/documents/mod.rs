//! Contract documents. `text` renders the German contract texts of `contracts/` with the
//! registry's data, `pdf` lays them out on A4 pages (with `subset` shrinking the embedded
//! fonts), `html` shows them on the agreement page; `seal/` seals the result and
//! `store::document` stores it.

pub mod html;
pub mod pdf;
pub mod subset;
pub mod text;
