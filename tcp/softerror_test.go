package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestRFC9293_MUST_56_SoftErrorReportedOnTimeout: a soft error (an ICMP host
// unreachable, which must not abort the connection) is kept, the SYN goes on
// being retransmitted, and when the attempt finally times out the user is
// told the soft error rather than a bare ETIMEDOUT (Linux's sk_err_soft).
func TestRFC9293_MUST_56_SoftErrorReportedOnTimeout(t *testing.T) {
	e := newEndpoint(t, nil)
	now := time.Second
	if err := e.Connect(now, OpenOptions{ISN: 1, MSS: 1460}); err != nil {
		t.Fatal(err)
	}
	e.SetSoftError(syscall.EHOSTUNREACH)
	if e.State() != SynSent {
		t.Fatalf("state %v after a soft error", e.State())
	}
	syns := len(e.rec.take())
	for i := 0; i < 100; i++ {
		d, ok := e.Deadline()
		if !ok {
			break
		}
		e.Tick(d)
		syns += len(e.rec.take())
	}
	if e.State() != Closed {
		t.Fatalf("state %v, want CLOSED after the SYN retries", e.State())
	}
	if syns < 10 {
		t.Errorf("%d SYNs sent, want the full retry schedule", syns)
	}
	if _, err := e.Write(e.Now(), []byte("x")); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("error after the timeout: %v, want EHOSTUNREACH", err)
	}
}
