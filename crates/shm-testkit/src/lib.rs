//! Test and benchmark tools for shm-exchange, kept out of the user's `shm`
//! binary: `shm-torture` (writers and readers of frames with checkable
//! contents, for the reliability tests) and `shm-bench` (shared memory against
//! Unix sockets, pipes, TCP loopback, one memcpy and iceoryx2).

pub mod bench;
pub mod torture;
