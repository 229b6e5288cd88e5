fn main() {
    afl::fuzz!(|data: &[u8]| {
        switchboard_fuzz::sdp(data);
    });
}
