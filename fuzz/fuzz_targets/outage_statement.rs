#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| probity::fuzz::outage_statement(data));
