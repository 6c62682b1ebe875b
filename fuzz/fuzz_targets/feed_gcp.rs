#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| probity::fuzz::feed_as(
    probity_engine::feeds::Format::GcpJson,
    data
));
