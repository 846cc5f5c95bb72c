package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sync"
	"time"
	"unicode/utf8"
)

// pcapng block types and option codes used here.
const (
	blockSHB = 0x0A0D0D0A // Section Header Block
	blockIDB = 0x00000001 // Interface Description Block
	blockOPB = 0x00000002 // Packet Block (obsolete)
	blockSPB = 0x00000003 // Simple Packet Block
	blockEPB = 0x00000006 // Enhanced Packet Block

	byteOrderMagic = 0x1A2B3C4D

	optEndOfOpt = 0
	optComment  = 1
	optShbAppl  = 4  // shb_userappl
	optIfName   = 2  // if_name
	optTsresol  = 9  // if_tsresol
	optTsoffset = 14 // if_tsoffset
	optEpbFlags = 2  // epb_flags
)

// DefaultSnapLen is the snapshot length written when WriterOptions.SnapLen
// is 0: Wireshark's default, large enough for a 64 KiB GSO packet.
const DefaultSnapLen = 262144

// ErrWriterClosed is returned by a Writer's methods after Close.
var ErrWriterClosed = errors.New("pcap: writer closed")

// WriterOptions configures NewWriter. The zero value writes LINKTYPE_RAW
// with timestamps counted from the Unix epoch.
type WriterOptions struct {
	// LinkType of the one interface; 0 means LinkTypeRaw (IPv4 and IPv6
	// without a link header, which is what link.Endpoint carries), so
	// LinkTypeNull cannot be written. The caller's packets must carry the
	// header the link type says.
	LinkType LinkType
	// SnapLen is the most bytes of a packet kept; longer packets are cut and
	// their original length recorded. 0 means DefaultSnapLen.
	SnapLen int
	// Epoch is the instant a timestamp of 0 stands for. The zero time.Time
	// means the Unix epoch (1970-01-01 UTC), so that a simulator passing
	// virtual time gets files that do not depend on the wall clock.
	Epoch time.Time
	// Clock, if set, tells a Tap the current time as an offset from Epoch
	// (a simulator passes its virtual clock). Nil means the wall clock.
	Clock func() time.Duration
	// InterfaceName, if not empty, is recorded as the interface's if_name.
	InterfaceName string
	// Application, if not empty, is recorded as the section's shb_userappl.
	Application string
}

// Writer writes a pcapng capture. Its methods are safe for concurrent use;
// packets are recorded in the order the calls take the Writer's lock.
// Output is buffered: call Flush or Close to push it to the io.Writer.
type Writer struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	err    error // sticky: the first write error
	closed bool
	opts   WriterOptions
	epoch  int64 // ns since the Unix epoch
	snap   int
	scr    []byte // block being built, reused
}

// NewWriter writes the Section Header Block and the Interface Description
// Block to w, flushes them, and returns a Writer for the packets.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	if opts.LinkType == 0 {
		opts.LinkType = LinkTypeRaw
	}
	if opts.SnapLen < 0 {
		return nil, errors.New("pcap: negative SnapLen")
	}
	if opts.SnapLen == 0 {
		opts.SnapLen = DefaultSnapLen
	}
	if opts.SnapLen > math.MaxUint32 {
		return nil, errors.New("pcap: SnapLen too large")
	}
	wr := &Writer{bw: bufio.NewWriterSize(w, 64<<10), opts: opts, snap: opts.SnapLen}
	if !opts.Epoch.IsZero() {
		wr.epoch = opts.Epoch.UnixNano()
	}

	// Section Header Block.
	b := wr.begin(blockSHB)
	b = le.AppendUint32(b, byteOrderMagic)
	b = le.AppendUint16(b, 1) // major
	b = le.AppendUint16(b, 0) // minor
	b = le.AppendUint64(b, math.MaxUint64)
	if opts.Application != "" {
		b = appendOption(b, optShbAppl, []byte(opts.Application))
		b = appendOption(b, optEndOfOpt, nil)
	}
	b = wr.end(b)

	// Interface Description Block.
	b = le.AppendUint32(b, blockIDB)
	start := len(b) - 4
	b = le.AppendUint32(b, 0) // total length, patched
	b = le.AppendUint16(b, uint16(opts.LinkType))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, uint32(opts.SnapLen))
	if opts.InterfaceName != "" {
		b = appendOption(b, optIfName, []byte(opts.InterfaceName))
	}
	b = appendOption(b, optTsresol, []byte{9}) // 10^-9 s: nanoseconds
	b = appendOption(b, optEndOfOpt, nil)
	b = endAt(b, start)

	if _, err := wr.bw.Write(b); err != nil {
		return nil, err
	}
	if err := wr.bw.Flush(); err != nil {
		return nil, err
	}
	wr.scr = b[:0]
	return wr, nil
}

var le = binary.LittleEndian

// begin starts a block of type typ in the scratch buffer.
func (w *Writer) begin(typ uint32) []byte {
	b := w.scr[:0]
	b = le.AppendUint32(b, typ)
	return le.AppendUint32(b, 0) // total length, patched by end
}

// end closes the block that starts at offset 0 of b.
func (w *Writer) end(b []byte) []byte { return endAt(b, 0) }

// endAt appends the trailing total length of the block starting at start
// and patches its leading copy. The body is already a multiple of 4.
func endAt(b []byte, start int) []byte {
	n := len(b) - start + 4
	le.PutUint32(b[start+4:], uint32(n))
	return le.AppendUint32(b, uint32(n))
}

// appendOption appends one option, its value padded to 32 bits.
func appendOption(b []byte, code uint16, val []byte) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return appendPad(b, len(val))
}

func appendPad(b []byte, n int) []byte {
	var zero [3]byte
	return append(b, zero[:pad(n)]...)
}

// pad is how many bytes bring n to a multiple of 4.
func pad(n int) int { return -n & 3 }

// maxComment bounds an option value: its length field has 16 bits.
const maxComment = 0xffff

// WritePacket records data, seen at ts after the Epoch, going dir, with a
// comment (none if empty) in an Enhanced Packet Block. data is cut to the
// snapshot length; a comment longer than 65535 bytes is cut too. The
// Writer does not keep data.
func (w *Writer) WritePacket(ts time.Duration, dir Direction, data []byte, comment string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrWriterClosed
	}
	if w.err != nil {
		return w.err
	}
	ns := w.epoch + int64(ts)
	if ns < 0 || (ts > 0 && ns < w.epoch) {
		return errors.New("pcap: timestamp before 1970 or out of range")
	}
	caplen := min(len(data), w.snap)
	if uint64(len(data)) > math.MaxUint32 {
		return errors.New("pcap: packet too long")
	}
	if len(comment) > maxComment {
		n := maxComment
		for n > 0 && !utf8.RuneStart(comment[n]) {
			n-- // do not cut a UTF-8 sequence in two
		}
		comment = comment[:n]
	}
	b := w.begin(blockEPB)
	b = le.AppendUint32(b, 0) // interface 0
	b = le.AppendUint32(b, uint32(uint64(ns)>>32))
	b = le.AppendUint32(b, uint32(ns))
	b = le.AppendUint32(b, uint32(caplen))
	b = le.AppendUint32(b, uint32(len(data)))
	b = append(b, data[:caplen]...)
	b = appendPad(b, caplen)
	opts := false
	if comment != "" {
		b = le.AppendUint16(b, optComment)
		b = le.AppendUint16(b, uint16(len(comment)))
		b = append(b, comment...)
		b = appendPad(b, len(comment))
		opts = true
	}
	if dir == In || dir == Out {
		b = le.AppendUint16(b, optEpbFlags)
		b = le.AppendUint16(b, 4)
		b = le.AppendUint32(b, uint32(dir)) // bits 0-1: 01 inbound, 10 outbound
		opts = true
	}
	if opts {
		b = appendOption(b, optEndOfOpt, nil)
	}
	b = w.end(b)
	w.scr = b[:0]
	if _, err := w.bw.Write(b); err != nil {
		w.err = err
		return err
	}
	return nil
}

// now is the Tap's clock: Clock if set, else the wall clock since Epoch.
func (w *Writer) now() time.Duration {
	if w.opts.Clock != nil {
		return w.opts.Clock()
	}
	return time.Duration(time.Now().UnixNano() - w.epoch)
}

// Flush writes buffered blocks to the underlying io.Writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrWriterClosed
	}
	return w.flush()
}

func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Err returns the first error met writing to the io.Writer, if any. A Tap,
// which cannot report errors from DeliverPackets, leaves them here.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes the Writer and makes further writes fail with
// ErrWriterClosed. It does not close the underlying io.Writer, which
// belongs to the caller. Closing twice returns ErrWriterClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrWriterClosed
	}
	err := w.flush()
	w.closed = true
	return err
}
