package stack

import (
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/synfin/synfin/link/pipe"
)

// BenchmarkBulkPipe measures the whole data path of a bulk transfer: one
// connection between two stacks over an in-memory pipe, the writer's
// 64 KiB writes to the reader's 64 KiB reads (copies, segmentation,
// checksums, ACK processing, the pipe's hand-over). allocs/op is per 64 KiB
// written: in the steady state it must be 0 (issue #5: no allocation per
// segment).
func BenchmarkBulkPipe(b *testing.B) {
	for _, c := range []struct {
		mtu     int
		offload bool
	}{{1500, false}, {65535, false}, {65535, true}} {
		name := fmt.Sprintf("mtu=%d", c.mtu)
		if c.offload {
			name += "/checksum-offload"
		}
		b.Run(name, func(b *testing.B) { benchBulkPipe(b, c.mtu, c.offload) })
	}
}

func benchBulkPipe(b *testing.B, mtu int, offload bool) {
	ea, eb := pipe.NewWithOptions(pipe.Options{MTU: mtu, ChecksumOffload: offload})
	sa, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	sb, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sa.Close()
	defer sb.Close()
	sa.AddInterface("p0", ea, netip.MustParsePrefix("10.0.0.1/24"))
	sb.AddInterface("p0", eb, netip.MustParsePrefix("10.0.0.2/24"))
	ln, err := sb.Listen("tcp", "10.0.0.2:9")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- -1
			return
		}
		buf := make([]byte, 64<<10)
		var n int64
		for {
			m, err := c.Read(buf)
			n += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				n = -1
				break
			}
		}
		c.Close()
		done <- n
	}()
	c, err := sa.Dial("tcp", "10.0.0.2:9")
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	// Warm up: let the windows and buffers reach their working size.
	for range 256 {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if n := <-done; n != int64(256+b.N)*int64(len(chunk)) {
		b.Fatalf("reader got %d bytes, want %d", n, int64(256+b.N)*int64(len(chunk)))
	}
	b.StopTimer()
}
