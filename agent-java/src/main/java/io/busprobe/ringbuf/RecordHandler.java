package io.busprobe.ringbuf;

import java.lang.foreign.MemorySegment;

/**
 * Receives one ring-buffer record in place. {@code data} is the whole
 * double-mapped data area, so a record that wraps around the end of the ring
 * is still contiguous at {@code offset .. offset + length}. The memory is only
 * valid during the call.
 */
@FunctionalInterface
public interface RecordHandler {
    void onRecord(MemorySegment data, long offset, int length);
}
