//! Integration tests of the library's public face (one test binary): Arrow and JSON
//! Lines agree, arrays equal the records, properties of random inputs, and the fuzz
//! corpora replayed. The stages' own tests are unit tests (`src/tests/`); the command
//! line's are in `crates/creditflow-cli/tests/`.

mod arrays;
mod columnar;
mod fuzz_corpus;
mod properties;
