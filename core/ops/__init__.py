"""Operations on many devices: fan-out with bounded concurrency, timeouts and cancellation."""
