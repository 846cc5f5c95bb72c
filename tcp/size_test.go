package tcp

import (
	"testing"
	"unsafe"
)

// TestTCBSize: the TCB fits Go's 1152-byte allocation size class. One more
// field can push it into the 1280-byte class and cost every connection 128
// bytes; the idle-connection budget (issue #5: 2 KiB per endpoint, TCB,
// congestion control and the stack's records included) has little room.
func TestTCBSize(t *testing.T) {
	if n := unsafe.Sizeof(TCB{}); n > 1152 {
		t.Fatalf("TCB is %d bytes, more than the 1152-byte size class", n)
	}
}
