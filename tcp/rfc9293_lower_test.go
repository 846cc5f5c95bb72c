package tcp

// RFC 9293 3.9.1.8 and 3.9.2.2: error reports and ICMP. The stack parses
// ICMP and finds the connection; the engine exposes the hooks it calls
// (SetSoftError, HardError, SetPathMSS), tested here. See docs/rfc9293.md.

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// MUST-47 (3.9.1.8): errors are reported to the user: a failure ends the
// connection with an asynchronous EventError and the errno on the next
// call; soft errors (ICMP, excessive retransmission) are kept for the user
// to read (SoftError) and urgent data raises EventUrgent (MUST-32).
func TestRFC9293_MUST_47_ErrorReporting(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.SetSoftError(syscall.ENETUNREACH)
	if !errors.Is(r.e.SoftError(), syscall.ENETUNREACH) || len(r.errs()) != 0 {
		t.Fatalf("soft error %v, events %v", r.e.SoftError(), r.errs())
	}
	r.e.HardError(r.now, syscall.EHOSTUNREACH)
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.EHOSTUNREACH) {
		t.Fatalf("EventError %v, want EHOSTUNREACH", errs)
	}
	if _, err := r.e.Read(r.now, make([]byte, 1)); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("Read: %v, want EHOSTUNREACH", err)
	}
}

// MUST-54 (3.9.2.2): ICMP errors passed up by IP are acted on. The stack
// demultiplexes them to the connection; the engine then records soft ones,
// aborts on hard ones, and follows "fragmentation needed"/"packet too big"
// by shrinking its segments (the next retransmission included).
func TestRFC9293_MUST_54_ICMPHooks(t *testing.T) {
	t.Run("soft", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.SetSoftError(syscall.EHOSTUNREACH)
		if !errors.Is(r.e.SoftError(), syscall.EHOSTUNREACH) || r.e.State() != Established {
			t.Fatalf("soft error %v, state %v", r.e.SoftError(), r.e.State())
		}
	})
	t.Run("hard in SYN_SENT", func(t *testing.T) {
		e := newEndpoint(t, nil)
		e.Connect(time.Second, OpenOptions{ISN: r9ISS})
		e.HardError(time.Second, syscall.ECONNREFUSED) // port unreachable
		if e.State() != Closed {
			t.Fatalf("state %v", e.State())
		}
		if _, err := e.Write(time.Second, []byte("x")); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Write: %v", err)
		}
	})
	t.Run("path MTU", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.write(make([]byte, 1460))
		r.e.SetPathMSS(r.now, 1000)
		out := r9Untime(r.run(time.Second))
		if len(out) == 0 || len(out[0].Payload) != 1000 || out[0].Seq != r9ISS+1 {
			t.Fatalf("after SetPathMSS(1000) the retransmission is %s", r9Fmt(out))
		}
	})
}

// MUST-56 (3.9.2.2) and SHLD-25 (3.9.2.2): soft ICMP errors (destination
// unreachable codes 0, 1, 5; time exceeded; parameter problem) do not abort
// the connection, and are made available to the user.
func TestRFC9293_MUST_56_SHLD_25_SoftErrorsDoNotAbort(t *testing.T) {
	r := r9Plain(t, nil)
	for _, err := range []error{syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.EMSGSIZE, syscall.EPROTO} {
		r.e.SetSoftError(err)
		if !errors.Is(r.e.SoftError(), err) {
			t.Fatalf("SoftError %v, want %v", r.e.SoftError(), err)
		}
	}
	if r.e.State() != Established || len(r.errs()) != 0 {
		t.Fatalf("state %v, errors %v after soft errors", r.e.State(), r.errs())
	}
	d := r9Data(r.write([]byte("still working")))
	if len(d) != 1 {
		t.Fatalf("data after soft errors: %s", r9Fmt(d))
	}
	r.peer(wire.FlagACK|wire.FlagPSH, "reply")
	if got := string(readAll(r.e, r.now)); got != "reply" {
		t.Fatalf("read %q", got)
	}
}

// SHLD-26 (3.9.2.2): a hard ICMP error (destination unreachable codes 2 to
// 4) aborts the connection; the stack calls HardError for those it treats
// as hard.
func TestRFC9293_SHLD_26_HardErrorAborts(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.HardError(r.now, syscall.ECONNREFUSED)
	if r.e.State() != Closed {
		t.Fatalf("state %v", r.e.State())
	}
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ECONNREFUSED) {
		t.Fatalf("errors %v", errs)
	}
	if out := r.e.rec.take(); len(out) != 0 {
		t.Fatalf("sent %s on a hard error", r9Fmt(out))
	}
}
