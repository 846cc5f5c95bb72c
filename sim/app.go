package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// chunkSize is how much the ready-made apps generate or read at a time.
const chunkSize = 64 << 10

// newStreamSource returns the generator of the pseudo-random byte stream
// with that seed.
func newStreamSource(seed uint64) *rand.ChaCha8 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write([]byte("synfin/sim stream\x00"))
	h.Write(b[:])
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return rand.NewChaCha8(key)
}

// StreamBytes returns the first size bytes of the pseudo-random stream with
// that seed (what a BulkSender with that seed sends).
func StreamBytes(seed uint64, size int) []byte {
	b := make([]byte, size)
	src := newStreamSource(seed)
	for off := 0; off < size; off += chunkSize {
		src.Read(b[off:min(off+chunkSize, size)])
	}
	return b
}

// StreamSum returns the SHA-256 of the first size bytes of the stream with
// that seed, computed without a network.
func StreamSum(seed uint64, size int64) [32]byte {
	src := newStreamSource(seed)
	h := sha256.New()
	buf := make([]byte, chunkSize)
	for left := size; left > 0; {
		k := int(min(left, chunkSize))
		src.Read(buf[:k])
		h.Write(buf[:k])
		left -= int64(k)
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

func wouldBlock(err error) bool { return errors.Is(err, tcp.ErrWouldBlock) }

// ---------------------------------------------------------------------------
// BulkSender.

// BulkConfig configures a BulkSender.
type BulkConfig struct {
	// Size is the number of bytes to send; Seed chooses the stream.
	Size int64
	Seed uint64
	// Local is the local address and port to dial from; the zero value
	// lets the stack choose.
	Local netip.AddrPort
	// WriteBuffer and ReadBuffer, when positive, set SO_SNDBUF and
	// SO_RCVBUF (as setsockopt does: the stack doubles the value).
	WriteBuffer, ReadBuffer int
}

// BulkSender is an App that connects, writes Size bytes of a pseudo-random
// stream with TryWrite, half-closes (CloseWrite), reads until the peer's
// EOF, and closes. It is made by Host.BulkSend.
type BulkSender struct {
	n    *Network
	cfg  BulkConfig
	conn *stack.TCPConn

	src     *rand.ChaCha8
	hash    hash.Hash
	chunk   []byte
	off     int
	queued  int64
	scratch []byte
	phase   int
	err     error
	sum     [32]byte
	prog    int64

	// Virtual times: dial, handshake done, everything written and
	// CloseWrite called, peer's EOF read and Close called.
	Started, Established, WriteDone, Finished time.Duration
}

const (
	phaseDial = iota
	phaseSend
	phaseDrain
	phaseDone
)

// BulkSend starts a BulkSender from h to raddr and registers it with the
// network (Start).
func (h *Host) BulkSend(raddr netip.AddrPort, cfg BulkConfig) (*BulkSender, error) {
	if cfg.Size < 0 {
		return nil, errors.New("sim: negative size")
	}
	c, err := h.s.DialAsync(cfg.Local, raddr)
	if err != nil {
		return nil, err
	}
	if cfg.WriteBuffer > 0 {
		c.SetWriteBuffer(cfg.WriteBuffer)
	}
	if cfg.ReadBuffer > 0 {
		c.SetReadBuffer(cfg.ReadBuffer)
	}
	b := &BulkSender{n: h.n, cfg: cfg, conn: c, src: newStreamSource(cfg.Seed), hash: sha256.New(), Started: h.n.now}
	h.n.Start(b)
	return b, nil
}

// Conn returns the sender's connection.
func (b *BulkSender) Conn() *stack.TCPConn { return b.conn }

// Done reports that the sender has finished, successfully or not.
func (b *BulkSender) Done() bool { return b.phase == phaseDone }

// Err returns why the sender failed, or nil.
func (b *BulkSender) Err() error { return b.err }

// Queued returns the bytes the stack has accepted so far.
func (b *BulkSender) Queued() int64 { return b.queued }

// Sum returns the SHA-256 of what was sent, once everything was queued.
func (b *BulkSender) Sum() [32]byte { return b.sum }

// Progress implements App.
func (b *BulkSender) Progress() int64 { return b.prog }

// Waiting implements App: the sender waits until it is done.
func (b *BulkSender) Waiting() bool { return b.phase != phaseDone }

func (b *BulkSender) fail(err error) {
	b.err = err
	b.phase = phaseDone
	b.Finished = b.n.now
	b.prog++
	b.conn.Close()
}

// Poll implements App.
func (b *BulkSender) Poll() {
	for {
		switch b.phase {
		case phaseDone:
			return
		case phaseDial:
			switch st := b.conn.State(); st {
			case tcp.SynSent, tcp.SynReceived:
				return
			case tcp.Established, tcp.CloseWait:
				b.phase = phaseSend
				b.Established = b.n.now
				b.prog++
			default:
				err := b.conn.Err()
				if err == nil {
					err = fmt.Errorf("connection %v in state %v", b.conn, st)
				}
				b.fail(err)
				return
			}
		case phaseSend:
			if b.off == len(b.chunk) {
				if b.queued == b.cfg.Size {
					b.hash.Sum(b.sum[:0])
					if err := b.conn.CloseWrite(); err != nil {
						b.fail(err)
						return
					}
					b.phase = phaseDrain
					b.WriteDone = b.n.now
					b.prog++
					continue
				}
				if b.chunk == nil {
					b.chunk = make([]byte, chunkSize)
				}
				k := int(min(b.cfg.Size-b.queued, chunkSize))
				b.chunk = b.chunk[:k]
				b.src.Read(b.chunk)
				b.hash.Write(b.chunk)
				b.off = 0
			}
			w, err := b.conn.TryWrite(b.chunk[b.off:])
			b.off += w
			b.queued += int64(w)
			b.prog += int64(w)
			if err != nil {
				if !wouldBlock(err) {
					b.fail(err)
				}
				return
			}
		case phaseDrain:
			if b.scratch == nil {
				b.scratch = make([]byte, 4096)
			}
			k, err := b.conn.TryRead(b.scratch)
			b.prog += int64(k)
			switch {
			case err == io.EOF:
				b.conn.Close()
				b.phase = phaseDone
				b.Finished = b.n.now
				b.prog++
				return
			case err != nil && wouldBlock(err):
				return
			case err != nil:
				b.fail(err)
				return
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Sink.

// SinkConfig configures a Sink.
type SinkConfig struct {
	// Accept, when positive, is the number of connections to accept before
	// closing the listener; the Sink then waits for them all (see Waiting).
	// 0 keeps listening.
	Accept int
	// ReadBuffer, when positive, sets SO_RCVBUF on accepted connections.
	ReadBuffer int
}

// Sink is an App that listens, accepts connections with TryAccept, reads
// each with TryRead, hashing (SHA-256) and counting what arrives, and
// closes each on EOF. It is made by Host.Sink.
type Sink struct {
	n       *Network
	cfg     SinkConfig
	ln      *stack.TCPListener
	streams []*Stream
	buf     []byte
	prog    int64
	err     error
}

// Stream is one connection accepted by a Sink.
type Stream struct {
	Conn *stack.TCPConn
	// Bytes received so far; Sum, their SHA-256 once EOF is reached.
	Bytes int64
	Sum   [32]byte
	// EOF: the peer's FIN was read and the connection closed.
	EOF bool
	// Err is why the connection failed, if it did.
	Err  error
	hash hash.Hash
	done bool
	// Virtual times: accepted, first byte read, EOF read (and Close).
	Accepted, FirstByte, Finished time.Duration
}

// Done reports that the stream has ended (EOF or error).
func (s *Stream) Done() bool { return s.done }

// Sink starts a Sink listening on addr (an unspecified address listens on
// all of the host's) and registers it with the network (Start).
func (h *Host) Sink(addr netip.AddrPort, cfg SinkConfig) (*Sink, error) {
	ln, err := h.s.ListenConfig(stack.ListenConfig{}, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	s := &Sink{n: h.n, cfg: cfg, ln: ln, buf: make([]byte, chunkSize)}
	h.n.Start(s)
	return s, nil
}

// Streams returns the accepted connections, in the order of acceptance.
func (s *Sink) Streams() []*Stream { return append([]*Stream(nil), s.streams...) }

// Err returns the listener's error, if accepting failed.
func (s *Sink) Err() error { return s.err }

// Close closes the listener (accepted streams go on).
func (s *Sink) Close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	s.ln = nil
	return err
}

// Progress implements App.
func (s *Sink) Progress() int64 { return s.prog }

// Waiting implements App: a Sink waits while a stream is open, or while
// fewer than cfg.Accept connections have arrived.
func (s *Sink) Waiting() bool {
	if s.cfg.Accept > 0 && len(s.streams) < s.cfg.Accept && s.err == nil {
		return true
	}
	for _, st := range s.streams {
		if !st.done {
			return true
		}
	}
	return false
}

// Poll implements App.
func (s *Sink) Poll() {
	for s.ln != nil {
		c, err := s.ln.TryAccept()
		if err != nil {
			if !wouldBlock(err) {
				s.err = err
				s.ln = nil
			}
			break
		}
		if s.cfg.ReadBuffer > 0 {
			c.SetReadBuffer(s.cfg.ReadBuffer)
		}
		s.streams = append(s.streams, &Stream{Conn: c, hash: sha256.New(), Accepted: s.n.now})
		s.prog++
		if s.cfg.Accept > 0 && len(s.streams) >= s.cfg.Accept {
			s.Close()
		}
	}
	for _, st := range s.streams {
		if !st.done {
			s.prog += st.poll(s.n.now, s.buf)
		}
	}
}

// poll reads what is waiting and returns the progress made.
func (st *Stream) poll(now time.Duration, buf []byte) int64 {
	var prog int64
	for {
		k, err := st.Conn.TryRead(buf)
		if k > 0 {
			if st.Bytes == 0 {
				st.FirstByte = now
			}
			st.hash.Write(buf[:k])
			st.Bytes += int64(k)
			prog += int64(k)
		}
		switch {
		case err == io.EOF:
			st.hash.Sum(st.Sum[:0])
			st.EOF = true
			st.done = true
			st.Finished = now
			st.Conn.Close()
			return prog + 1
		case err != nil && wouldBlock(err):
			return prog
		case err != nil:
			st.Err = err
			st.done = true
			st.Finished = now
			st.Conn.Close()
			return prog + 1
		case k == 0:
			return prog
		}
	}
}
