package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// MaxBlockLen bounds a pcapng block or a classic pcap record: a longer one
// is taken for corruption, so a malformed file cannot make the Reader
// allocate more. Memory grows with the bytes actually read, never with a
// length field alone.
const MaxBlockLen = 64 << 20

// Classic pcap magic numbers, as read big-endian from the first 4 bytes.
const (
	magicMicro        = 0xA1B2C3D4
	magicNano         = 0xA1B23C4D
	magicMicroSwapped = 0xD4C3B2A1
	magicNanoSwapped  = 0x4D3CB2A1
)

// Format is the kind of capture file a Reader reads.
type Format uint8

// The formats Reader understands.
const (
	FormatPcap   Format = iota + 1 // classic libpcap
	FormatPcapNG                   // pcapng
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// FormatError reports a malformed capture file and where the problem was.
type FormatError struct {
	Offset int64  // byte offset in the file of the block or record at fault
	Msg    string // what is wrong
	Err    error  // the underlying error, such as io.ErrUnexpectedEOF, or nil
}

func (e *FormatError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("pcap: offset %d: %s: %v", e.Offset, e.Msg, e.Err)
	}
	return fmt.Sprintf("pcap: offset %d: %s", e.Offset, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Packet is one packet read from a capture.
type Packet struct {
	// Timestamp is when the packet was captured; the zero time.Time for a
	// pcapng Simple Packet Block, which has none.
	Timestamp time.Time
	// LinkType says what header Data starts with.
	LinkType LinkType
	// Data is the captured bytes, the Packet's own copy. It may be shorter
	// than OrigLen if the capture cut the packet at the snapshot length.
	Data []byte
	// OrigLen is the packet's length on the wire.
	OrigLen int
	// Comment is the packet's opt_comment (several are joined by
	// newlines); classic pcap has none.
	Comment string
	// Direction comes from the pcapng epb_flags option, or else from the
	// packet type of a Linux cooked (SLL, SLL2) header.
	Direction Direction
	// Interface is the pcapng interface index within its section, 0 for
	// classic pcap.
	Interface int
	// Offset is where the packet's block or record starts in the file.
	Offset int64
}

// Reader reads packets from a pcapng or classic pcap capture.
type Reader struct {
	r      *bufio.Reader
	off    int64 // bytes consumed from r
	format Format
	buf    []byte // block body, reused
	err    error  // sticky

	// classic pcap
	order    binary.ByteOrder
	nano     bool
	linkType LinkType
	snapLen  uint32

	// pcapng: the current section's interfaces
	ifaces []iface
}

type iface struct {
	linkType LinkType
	snapLen  uint32
	res      tsResolution
	offset   int64 // if_tsoffset, seconds
}

// tsResolution is a pcapng if_tsresol: units of 10^-exp or 2^-exp seconds.
type tsResolution struct {
	binary bool
	exp    uint8
}

var microseconds = tsResolution{exp: 6}

// NewReader reads the file header (classic pcap) or the first Section
// Header Block (pcapng) from r and returns a Reader for the packets. The
// Reader buffers r.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	head, err := rd.r.Peek(4)
	if err != nil {
		return nil, rd.errorf(0, "reading the file header", eofToUnexpected(err))
	}
	switch be.Uint32(head) {
	case blockSHB:
		rd.format = FormatPcapNG
		if err := rd.readSHB(); err != nil {
			return nil, err
		}
	case magicMicro, magicNano, magicMicroSwapped, magicNanoSwapped:
		rd.format = FormatPcap
		if err := rd.readFileHeader(); err != nil {
			return nil, err
		}
	default:
		return nil, rd.errorf(0, fmt.Sprintf("not a pcap or pcapng file (magic %#08x)", be.Uint32(head)), nil)
	}
	return rd, nil
}

var be = binary.BigEndian

// Format reports whether the file is pcapng or classic pcap.
func (r *Reader) Format() Format { return r.format }

// Next returns the next packet, io.EOF after the last one, or a
// *FormatError if the file is malformed or ends inside a block. pcapng
// blocks that carry no packet (statistics, name resolution, unknown types)
// are skipped. After an error, Next returns the same error again.
func (r *Reader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	var p Packet
	var err error
	if r.format == FormatPcap {
		p, err = r.nextRecord()
	} else {
		p, err = r.nextPacketBlock()
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	if p.Direction == Unknown {
		p.Direction = cookedDirection(p.LinkType, p.Data)
	}
	return p, nil
}

func (r *Reader) errorf(off int64, msg string, err error) error {
	return &FormatError{Offset: off, Msg: msg, Err: err}
}

func eofToUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// read returns the next n bytes (n <= MaxBlockLen) in r.buf, which it
// grows only as the bytes arrive, so that a huge length field in a short
// file costs no huge allocation.
func (r *Reader) read(n int) ([]byte, error) {
	buf := r.buf[:0]
	for len(buf) < n {
		chunk := min(n-len(buf), 1<<20)
		buf = slices.Grow(buf, chunk)
		m, err := io.ReadFull(r.r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+m]
		r.off += int64(m)
		if err != nil {
			r.buf = buf[:0]
			return nil, err
		}
	}
	r.buf = buf[:0]
	return buf, nil
}

// ---- classic pcap ----

func (r *Reader) readFileHeader() error {
	h, err := r.read(24)
	if err != nil {
		return r.errorf(0, "reading the pcap file header", eofToUnexpected(err))
	}
	switch be.Uint32(h) {
	case magicMicro:
		r.order = binary.BigEndian
	case magicNano:
		r.order, r.nano = binary.BigEndian, true
	case magicMicroSwapped:
		r.order = binary.LittleEndian
	case magicNanoSwapped:
		r.order, r.nano = binary.LittleEndian, true
	}
	if major := r.order.Uint16(h[4:]); major != 2 {
		return r.errorf(0, fmt.Sprintf("unsupported pcap version %d.%d", major, r.order.Uint16(h[6:])), nil)
	}
	r.snapLen = r.order.Uint32(h[16:])
	// The low 16 bits are the link type; the upper bits of the field may
	// describe an FCS, which does not matter here.
	r.linkType = LinkType(r.order.Uint32(h[20:]) & 0xffff)
	return nil
}

func (r *Reader) nextRecord() (Packet, error) {
	start := r.off
	h, err := r.read(16)
	if err == io.EOF {
		return Packet{}, io.EOF
	}
	if err != nil {
		return Packet{}, r.errorf(start, "reading a record header", eofToUnexpected(err))
	}
	sec := r.order.Uint32(h[0:])
	frac := r.order.Uint32(h[4:])
	incl := r.order.Uint32(h[8:])
	orig := r.order.Uint32(h[12:])
	if incl > MaxBlockLen {
		return Packet{}, r.errorf(start, fmt.Sprintf("record length %d exceeds the %d limit", incl, MaxBlockLen), nil)
	}
	data, err := r.read(int(incl))
	if err != nil {
		return Packet{}, r.errorf(start, fmt.Sprintf("reading a %d-byte record", incl), eofToUnexpected(err))
	}
	nsec := int64(frac)
	if !r.nano {
		nsec *= 1000
	}
	return Packet{
		Timestamp: time.Unix(int64(sec), nsec).UTC(),
		LinkType:  r.linkType,
		Data:      slices.Clone(data),
		OrigLen:   int(max(orig, incl)),
		Offset:    start,
	}, nil
}

// ---- pcapng ----

// block is one pcapng block read whole.
type block struct {
	typ   uint32
	body  []byte // between the leading length and the trailing one
	start int64
	order binary.ByteOrder
}

// sectionOrder is the byte order of the current section, set by its SHB.
func (r *Reader) sectionOrder() binary.ByteOrder {
	if r.order == nil {
		return binary.LittleEndian
	}
	return r.order
}

// readBlock reads one block; at a Section Header Block it sets the byte
// order from the block's magic first. io.EOF means a clean end.
func (r *Reader) readBlock() (block, error) {
	start := r.off
	h, err := r.read(8)
	if err == io.EOF {
		return block{}, io.EOF
	}
	if err != nil {
		return block{}, r.errorf(start, "reading a block header", eofToUnexpected(err))
	}
	var hdr [8]byte
	copy(hdr[:], h)
	order := r.sectionOrder()
	if le.Uint32(hdr[:]) == blockSHB { // a palindrome: either order
		m, err := r.read(4)
		if err != nil {
			return block{}, r.errorf(start, "reading a section header", eofToUnexpected(err))
		}
		switch {
		case le.Uint32(m) == byteOrderMagic:
			order = binary.LittleEndian
		case be.Uint32(m) == byteOrderMagic:
			order = binary.BigEndian
		default:
			return block{}, r.errorf(start, fmt.Sprintf("bad byte-order magic %#08x in section header", be.Uint32(m)), nil)
		}
		r.order = order
		r.ifaces = r.ifaces[:0]
	}
	typ := order.Uint32(hdr[0:])
	total := order.Uint32(hdr[4:])
	minLen := uint32(12)
	if typ == blockSHB {
		minLen = 28
	}
	switch {
	case total < minLen:
		return block{}, r.errorf(start, fmt.Sprintf("block type %#x length %d is below the minimum %d", typ, total, minLen), nil)
	case total%4 != 0:
		return block{}, r.errorf(start, fmt.Sprintf("block type %#x length %d is not a multiple of 4", typ, total), nil)
	case total > MaxBlockLen:
		return block{}, r.errorf(start, fmt.Sprintf("block type %#x length %d exceeds the %d limit", typ, total, MaxBlockLen), nil)
	}
	consumed := int(r.off - start) // 8, or 12 for an SHB
	rest, err := r.read(int(total) - consumed)
	if err != nil {
		return block{}, r.errorf(start, fmt.Sprintf("reading a %d-byte block of type %#x", total, typ), eofToUnexpected(err))
	}
	if trailer := order.Uint32(rest[len(rest)-4:]); trailer != total {
		return block{}, r.errorf(start, fmt.Sprintf("block type %#x: trailing length %d differs from leading length %d", typ, trailer, total), nil)
	}
	body := rest[:len(rest)-4]
	if typ == blockSHB {
		// Give the SHB body its magic back, for uniform parsing.
		body = append(le.AppendUint32(make([]byte, 0, 4+len(body)), byteOrderMagic), body...)
	}
	return block{typ: typ, body: body, start: start, order: order}, nil
}

// readSHB reads the first block, which must be a Section Header Block.
func (r *Reader) readSHB() error {
	b, err := r.readBlock()
	if err != nil {
		return eofToFormat(r, err)
	}
	if b.typ != blockSHB {
		return r.errorf(b.start, "pcapng file does not start with a section header", nil)
	}
	return r.parseSHB(b)
}

func eofToFormat(r *Reader, err error) error {
	if err == io.EOF {
		return r.errorf(r.off, "empty file", io.ErrUnexpectedEOF)
	}
	return err
}

func (r *Reader) parseSHB(b block) error {
	// body: magic(4) major(2) minor(2) section length(8) options
	if major := b.order.Uint16(b.body[4:]); major != 1 {
		return r.errorf(b.start, fmt.Sprintf("unsupported pcapng version %d.%d", major, b.order.Uint16(b.body[6:])), nil)
	}
	return r.walkOptions(b, b.body[16:], func(uint16, []byte) error { return nil })
}

func (r *Reader) parseIDB(b block) error {
	if len(b.body) < 8 {
		return r.errorf(b.start, "interface description block too short", nil)
	}
	ifc := iface{
		linkType: LinkType(b.order.Uint16(b.body[0:])),
		snapLen:  b.order.Uint32(b.body[4:]),
		res:      microseconds,
	}
	err := r.walkOptions(b, b.body[8:], func(code uint16, val []byte) error {
		switch code {
		case optTsresol:
			if len(val) != 1 {
				return r.errorf(b.start, fmt.Sprintf("if_tsresol of %d bytes", len(val)), nil)
			}
			ifc.res = tsResolution{binary: val[0]&0x80 != 0, exp: val[0] & 0x7f}
		case optTsoffset:
			if len(val) != 8 {
				return r.errorf(b.start, fmt.Sprintf("if_tsoffset of %d bytes", len(val)), nil)
			}
			ifc.offset = int64(b.order.Uint64(val))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(r.ifaces) >= 1<<16 {
		return r.errorf(b.start, "more than 65536 interfaces in one section", nil)
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// walkOptions calls f for each option in opts until opt_endofopt or the
// end of the block. A length running past the block is an error.
func (r *Reader) walkOptions(b block, opts []byte, f func(code uint16, val []byte) error) error {
	for len(opts) >= 4 {
		code := b.order.Uint16(opts[0:])
		n := int(b.order.Uint16(opts[2:]))
		if code == optEndOfOpt {
			return nil
		}
		if 4+n > len(opts) {
			return r.errorf(b.start, fmt.Sprintf("option %d of length %d runs past the end of block type %#x", code, n, b.typ), nil)
		}
		if err := f(code, opts[4:4+n]); err != nil {
			return err
		}
		opts = opts[min(len(opts), 4+n+pad(n)):]
	}
	return nil
}

func (r *Reader) nextPacketBlock() (Packet, error) {
	for {
		b, err := r.readBlock()
		if err != nil {
			return Packet{}, err
		}
		switch b.typ {
		case blockSHB:
			if err := r.parseSHB(b); err != nil {
				return Packet{}, err
			}
		case blockIDB:
			if err := r.parseIDB(b); err != nil {
				return Packet{}, err
			}
		case blockEPB, blockOPB:
			return r.parseEPB(b)
		case blockSPB:
			return r.parseSPB(b)
		}
	}
}

func (r *Reader) iface(b block, id uint32) (iface, error) {
	if id >= uint32(len(r.ifaces)) {
		return iface{}, r.errorf(b.start, fmt.Sprintf("packet on interface %d, but the section describes %d", id, len(r.ifaces)), nil)
	}
	return r.ifaces[id], nil
}

// parseEPB reads an Enhanced Packet Block, or the obsolete Packet Block
// whose layout differs only in its first word (a 16-bit interface ID and a
// drop count) and which is parsed the same way.
func (r *Reader) parseEPB(b block) (Packet, error) {
	body := b.body
	if len(body) < 20 {
		return Packet{}, r.errorf(b.start, "packet block too short", nil)
	}
	id := b.order.Uint32(body[0:])
	if b.typ == blockOPB {
		id = uint32(b.order.Uint16(body[0:]))
	}
	ifc, err := r.iface(b, id)
	if err != nil {
		return Packet{}, err
	}
	ts := uint64(b.order.Uint32(body[4:]))<<32 | uint64(b.order.Uint32(body[8:]))
	caplen := b.order.Uint32(body[12:])
	orig := b.order.Uint32(body[16:])
	if uint64(caplen) > uint64(len(body)-20) {
		return Packet{}, r.errorf(b.start, fmt.Sprintf("captured length %d exceeds the block", caplen), nil)
	}
	data := body[20 : 20+caplen]
	opts := body[min(len(body), 20+int(caplen)+pad(int(caplen))):]
	p := Packet{
		Timestamp: ifc.res.time(ts, ifc.offset),
		LinkType:  ifc.linkType,
		Data:      slices.Clone(data),
		OrigLen:   int(max(orig, caplen)),
		Interface: int(id),
		Offset:    b.start,
	}
	var comments []string
	err = r.walkOptions(b, opts, func(code uint16, val []byte) error {
		switch code {
		case optComment:
			comments = append(comments, string(val))
		case optEpbFlags: // pack_flags in the obsolete block: same code, same bits
			if len(val) != 4 {
				return r.errorf(b.start, fmt.Sprintf("epb_flags of %d bytes", len(val)), nil)
			}
			switch b.order.Uint32(val) & 3 {
			case 1:
				p.Direction = In
			case 2:
				p.Direction = Out
			}
		}
		return nil
	})
	if err != nil {
		return Packet{}, err
	}
	p.Comment = strings.Join(comments, "\n")
	return p, nil
}

// parseSPB reads a Simple Packet Block: interface 0, no timestamp, the
// captured length implied by the original length and the snapshot length.
func (r *Reader) parseSPB(b block) (Packet, error) {
	if len(b.body) < 4 {
		return Packet{}, r.errorf(b.start, "simple packet block too short", nil)
	}
	ifc, err := r.iface(b, 0)
	if err != nil {
		return Packet{}, err
	}
	orig := b.order.Uint32(b.body[0:])
	n := uint64(orig)
	if ifc.snapLen != 0 {
		n = min(n, uint64(ifc.snapLen))
	}
	n = min(n, uint64(len(b.body)-4))
	return Packet{
		LinkType: ifc.linkType,
		Data:     slices.Clone(b.body[4 : 4+n]),
		OrigLen:  int(orig),
		Offset:   b.start,
	}, nil
}

// time converts a timestamp in units of the resolution, plus an offset in
// seconds, without overflowing on any input.
func (res tsResolution) time(ts uint64, offset int64) time.Time {
	var sec, nsec uint64
	e := uint(res.exp)
	if res.binary {
		switch {
		case e == 0:
			sec = ts
		case e < 64:
			sec = ts >> e
			hi, lo := bits.Mul64(ts&(1<<e-1), 1e9)
			nsec = lo>>e | hi<<(64-e)
		default: // e in [64, 127]: the whole timestamp is a fraction of a second
			hi, _ := bits.Mul64(ts, 1e9)
			nsec = hi >> (e - 64)
		}
	} else {
		switch {
		case e <= 9:
			unit := pow10(e)
			sec, nsec = ts/unit, ts%unit*pow10(9-e)
		case e <= 19:
			unit := pow10(e)
			sec, nsec = ts/unit, ts%unit/pow10(e-9)
		case e-9 <= 19: // ts < 10^20 <= 10^e: no whole seconds
			nsec = ts / pow10(e-9)
		}
	}
	return time.Unix(int64(sec)+offset, int64(nsec)).UTC()
}

func pow10(e uint) uint64 {
	p := uint64(1)
	for range e {
		p *= 10
	}
	return p
}

// ---- link-layer headers ----

// EtherTypes of the two IP versions.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86DD
)

// ErrNotIP is returned (wrapped) by Packet.IP for a packet that does not
// hold an IP datagram, or whose link type it cannot strip.
var ErrNotIP = errors.New("pcap: not an IP packet")

// IP returns the IP datagram in the packet: Data without its link-layer
// header (none for RAW, IPV4 and IPV6; Ethernet with up to two VLAN tags;
// Linux SLL and SLL2; BSD NULL/LOOP), trimmed of link padding after the IP
// length. It aliases Data. A datagram cut short by the snapshot length is
// returned as captured.
func (p Packet) IP() ([]byte, error) {
	d := p.Data
	var b []byte
	switch p.LinkType {
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6, 12, 14: // 12 and 14: DLT_RAW on some BSDs
		b = d
	case LinkTypeNull, 108: // 108: LOOP, the family in network order
		if len(d) < 4 {
			return nil, fmt.Errorf("%w: %d-byte %v packet", ErrNotIP, len(d), p.LinkType)
		}
		b = d[4:]
	case LinkTypeEthernet:
		off := 12
		for {
			if len(d) < off+2 {
				return nil, fmt.Errorf("%w: %d-byte Ethernet frame", ErrNotIP, len(d))
			}
			et := be.Uint16(d[off:])
			if (et == 0x8100 || et == 0x88A8 || et == 0x9100) && off < 20 {
				off += 4 // 802.1Q / 802.1ad tag
				continue
			}
			if et != etherTypeIPv4 && et != etherTypeIPv6 {
				return nil, fmt.Errorf("%w: EtherType %#04x", ErrNotIP, et)
			}
			b = d[off+2:]
			break
		}
	case LinkTypeLinuxSLL:
		if len(d) < 16 {
			return nil, fmt.Errorf("%w: %d-byte SLL packet", ErrNotIP, len(d))
		}
		if et := be.Uint16(d[14:]); et != etherTypeIPv4 && et != etherTypeIPv6 {
			return nil, fmt.Errorf("%w: SLL protocol %#04x", ErrNotIP, et)
		}
		b = d[16:]
	case LinkTypeLinuxSLL2:
		if len(d) < 20 {
			return nil, fmt.Errorf("%w: %d-byte SLL2 packet", ErrNotIP, len(d))
		}
		if et := be.Uint16(d[0:]); et != etherTypeIPv4 && et != etherTypeIPv6 {
			return nil, fmt.Errorf("%w: SLL2 protocol %#04x", ErrNotIP, et)
		}
		b = d[20:]
	default:
		return nil, fmt.Errorf("%w: link type %v is not supported", ErrNotIP, p.LinkType)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty datagram", ErrNotIP)
	}
	switch v := b[0] >> 4; {
	case v == 4 && p.LinkType != LinkTypeIPv6:
		if len(b) >= 20 {
			if tl := int(be.Uint16(b[2:])); tl >= 20 && tl < len(b) {
				b = b[:tl]
			}
		}
	case v == 6 && p.LinkType != LinkTypeIPv4:
		if len(b) >= 40 {
			if n := 40 + int(be.Uint16(b[4:])); n > 40 && n < len(b) {
				b = b[:n]
			}
		}
	default:
		return nil, fmt.Errorf("%w: IP version %d in a %v packet", ErrNotIP, v, p.LinkType)
	}
	return b, nil
}

// cookedDirection reads the packet type of a Linux cooked header: 4 is
// PACKET_OUTGOING; 0 to 3 (to us, broadcast, multicast, to another host)
// were received.
func cookedDirection(lt LinkType, d []byte) Direction {
	var t int
	switch {
	case lt == LinkTypeLinuxSLL && len(d) >= 16:
		t = int(be.Uint16(d[0:]))
	case lt == LinkTypeLinuxSLL2 && len(d) >= 20:
		t = int(d[10])
	default:
		return Unknown
	}
	switch {
	case t == 4:
		return Out
	case t <= 3:
		return In
	}
	return Unknown
}
