package pcap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// tcpPacket builds a TCP segment in an IPv4 or IPv6 datagram, checksums
// filled in.
func tcpPacket(t testing.TB, src, dst string, flags wire.TCPFlags, seq uint32, payload []byte) []byte {
	t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	h := wire.TCPHeader{SrcPort: 40000, DstPort: 80, Seq: seq, Ack: 1, Flags: flags, Window: 65535}
	seg := wire.BuildTCP(nil, &h, nil, payload)
	wire.TCP(seg).FillChecksum(s, d)
	var ip []byte
	var err error
	if s.Is4() {
		ip, err = wire.BuildIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtoTCP, Src: s, Dst: d, Flags: wire.IPv4DontFragment}, len(seg))
	} else {
		ip, err = wire.BuildIPv6(nil, &wire.IPv6Header{NextHeader: wire.ProtoTCP, HopLimit: 64, Src: s, Dst: d}, len(seg))
	}
	if err != nil {
		t.Fatal(err)
	}
	return append(ip, seg...)
}

type testPacket struct {
	ts      time.Duration
	dir     Direction
	data    []byte
	comment string
}

func samplePackets(t testing.TB) []testPacket {
	return []testPacket{
		{1 * time.Second, Out, tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1000, nil), "SYN_SENT: connect()"},
		{1*time.Second + 1500*time.Microsecond, In, tcpPacket(t, "10.99.0.2", "10.99.0.1", wire.FlagSYN|wire.FlagACK, 5000, nil), "ESTABLISHED"},
		{1*time.Second + 1501*time.Microsecond + 7, Out, tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagACK|wire.FlagPSH, 1001, []byte("hello")), ""},
		{2 * time.Second, Unknown, tcpPacket(t, "fd00::1", "fd00::2", wire.FlagFIN|wire.FlagACK, 77, []byte("x")), "FIN_WAIT_1: close(), comment with ünïcode and | bar"},
		{3 * time.Second, In, tcpPacket(t, "fd00::2", "fd00::1", wire.FlagRST, 1, nil), "odd-length comment"},
	}
}

func writeCapture(t testing.TB, opts WriterOptions, pkts []testPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(p.ts, p.dir, p.data, p.comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, b []byte) (Format, []Packet) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var pkts []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return r.Format(), pkts
		}
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
}

func TestRoundTrip(t *testing.T) {
	in := samplePackets(t)
	epoch := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	file := writeCapture(t, WriterOptions{Epoch: epoch, InterfaceName: "tap0", Application: "synfin test"}, in)
	if len(file)%4 != 0 {
		t.Errorf("file length %d is not a multiple of 4", len(file))
	}
	format, out := readAll(t, file)
	if format != FormatPcapNG {
		t.Errorf("format %v", format)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d packets, wrote %d", len(out), len(in))
	}
	for i, p := range out {
		w := in[i]
		if !p.Timestamp.Equal(epoch.Add(w.ts)) {
			t.Errorf("packet %d time %v, want %v (nanosecond resolution)", i, p.Timestamp, epoch.Add(w.ts))
		}
		if p.LinkType != LinkTypeRaw || p.Direction != w.dir || p.Comment != w.comment || p.OrigLen != len(w.data) || !bytes.Equal(p.Data, w.data) {
			t.Errorf("packet %d = %+v, want %+v", i, p, w)
		}
		ip, err := p.IP()
		if err != nil || !bytes.Equal(ip, w.data) {
			t.Errorf("packet %d IP() = %x, %v", i, ip, err)
		}
	}
}

// The same inputs give the same bytes, whatever the wall clock says: what
// makes a simulator's pcaps reproducible.
func TestDeterministic(t *testing.T) {
	a := writeCapture(t, WriterOptions{}, samplePackets(t))
	b := writeCapture(t, WriterOptions{}, samplePackets(t))
	if !bytes.Equal(a, b) {
		t.Fatal("two captures of the same packets differ")
	}
	_, pkts := readAll(t, a)
	if got := pkts[0].Timestamp; !got.Equal(time.Unix(1, 0)) {
		t.Errorf("with the zero Epoch a timestamp of 1s reads as %v, want 1970-01-01T00:00:01Z", got)
	}
}

// The exact bytes of a minimal capture, laid out by hand from the pcapng
// specification (draft-ietf-opsawg-pcapng), little-endian.
func TestWriterBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{SnapLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(0x1_0000_0002, Out, []byte{0x45, 1, 2, 3, 4}, "abcde"); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want := strings.Join([]string{
		// SHB: type, length 28, magic, version 1.0, section length -1, length
		"0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000",
		// IDB: type 1, length 32, LINKTYPE_RAW, reserved, snaplen 4,
		// if_tsresol=9 padded, opt_endofopt, length
		"01000000 20000000 6500 0000 04000000 0900 0100 09000000 0000 0000 20000000",
		// EPB: type 6, length 60, interface 0, ts high 1, ts low 2,
		// caplen 4, origlen 5, data, opt_comment "abcde" padded,
		// epb_flags = 2 (outbound), opt_endofopt, length
		"06000000 3c000000 00000000 01000000 02000000 04000000 05000000 45010203",
		"0100 0500 6162636465 000000 0200 0400 02000000 0000 0000 3c000000",
	}, " ")
	wantBytes, err := hex.DecodeString(strings.ReplaceAll(want, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), wantBytes) {
		t.Fatalf("got\n%x\nwant\n%x", buf.Bytes(), wantBytes)
	}
	_, pkts := readAll(t, buf.Bytes())
	if len(pkts) != 1 || pkts[0].OrigLen != 5 || len(pkts[0].Data) != 4 || pkts[0].Comment != "abcde" || pkts[0].Direction != Out {
		t.Fatalf("read back %+v", pkts)
	}
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, WriterOptions{})
	if err := w.WritePacket(-time.Second, In, []byte{0x45}, ""); err == nil {
		t.Error("a timestamp before 1970 was accepted")
	}
	w.Close()
	if err := w.WritePacket(0, In, []byte{0x45}, ""); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("write after Close: %v", err)
	}
	if _, err := NewWriter(failWriter{}, WriterOptions{}); err == nil {
		t.Error("NewWriter did not report the header's write error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// Several goroutines capture at once (run with -race): every packet is
// recorded whole.
func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, WriterOptions{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagACK, uint32(g), bytes.Repeat([]byte{byte(g)}, 100+g))
			for i := range 200 {
				w.WritePacket(time.Duration(i), Direction(g%3), p, "c")
			}
		}()
	}
	wg.Wait()
	w.Close()
	_, pkts := readAll(t, buf.Bytes())
	if len(pkts) != 800 {
		t.Fatalf("read %d packets, want 800", len(pkts))
	}
}

// tsharkFields runs tshark on file and returns one row of fields per packet.
func tsharkFields(t *testing.T, file string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing under CI (scripts/deps.sh installs it): %v", name, err)
		}
		t.Skipf("%s not installed (scripts/deps.sh installs it)", name)
	}
}

// commentField is the tshark field of packet comments: frame.comment since
// Wireshark 1.12 (4.x included), pkt_comment in older versions.
func commentField(t *testing.T) string {
	out, err := exec.Command("tshark", "-G", "fields").Output()
	if err != nil {
		t.Fatalf("tshark -G fields: %v", err)
	}
	if bytes.Contains(out, []byte("\tframe.comment\t")) {
		return "frame.comment"
	}
	return "pkt_comment"
}

// tshark, Wireshark's own reader, as the oracle: it opens our pcapng and
// finds every packet, its comment, direction, timestamp, addresses and TCP
// flags.
func TestTsharkReadsOurCapture(t *testing.T) {
	needTool(t, "tshark")
	in := samplePackets(t)
	epoch := time.Unix(1_700_000_000, 0)
	file := filepath.Join(t.TempDir(), "cap.pcapng")
	if err := os.WriteFile(file, writeCapture(t, WriterOptions{Epoch: epoch}, in), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := tsharkFields(t, file, commentField(t), "ip.src", "ipv6.src", "tcp.flags", "frame.time_epoch", "frame.packet_flags_direction", "tcp.len", "frame.protocols")
	if len(rows) != len(in) {
		t.Fatalf("tshark read %d packets, want %d: %q", len(rows), len(in), rows)
	}
	for i, row := range rows {
		w := in[i]
		if len(row) != 8 {
			t.Fatalf("row %d: %q", i, row)
		}
		ip, _ := wire.ParseIPv4(w.data)
		src, tcpb := "", []byte(nil)
		if ip != nil {
			src, tcpb = ip.Src().String(), ip.Payload()
			if row[1] != src || row[2] != "" {
				t.Errorf("packet %d ip.src=%q ipv6.src=%q, want %s", i, row[1], row[2], src)
			}
		} else {
			ip6, _ := wire.ParseIPv6(w.data)
			src, tcpb = ip6.Src().String(), ip6.Payload()
			if row[2] != src || row[1] != "" {
				t.Errorf("packet %d ip.src=%q ipv6.src=%q, want %s", i, row[1], row[2], src)
			}
		}
		seg, _ := wire.ParseTCP(tcpb)
		if want := "0x" + hex.EncodeToString([]byte{0, byte(seg.Flags())}); row[3] != want && row[3] != "0x"+hex.EncodeToString([]byte{byte(seg.Flags())}) {
			t.Errorf("packet %d tcp.flags=%q, want %s", i, row[3], want)
		}
		// tshark escapes nothing in our comments but shows them verbatim.
		if row[0] != w.comment {
			t.Errorf("packet %d comment %q, want %q", i, row[0], w.comment)
		}
		if got, want := parseEpoch(t, row[4]), epoch.Add(w.ts); !got.Equal(want) {
			t.Errorf("packet %d time %v (%s), want %v", i, got, row[4], want)
		}
		// tshark prints the direction bits as 0x00000001 (inbound) or
		// 0x00000002 (outbound), nothing without epb_flags.
		if dir, _ := strconv.ParseUint(row[5], 0, 32); Direction(dir) != w.dir {
			t.Errorf("packet %d direction %q, want %v", i, row[5], w.dir)
		}
		if row[6] != strconv.Itoa(len(seg.Payload())) {
			t.Errorf("packet %d tcp.len %q, want %d", i, row[6], len(seg.Payload()))
		}
		if !strings.Contains(row[7], ":tcp") {
			t.Errorf("packet %d protocols %q: tshark did not decode TCP", i, row[7])
		}
	}
}

// parseEpoch reads tshark's frame.time_epoch, seconds with up to nine
// decimals.
func parseEpoch(t *testing.T, s string) time.Time {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("frame.time_epoch %q", s)
	}
	return time.Unix(a, b)
}

// editcap converts our pcapng to classic pcap (microsecond and nanosecond
// magic); the Reader reads those the same, to their resolution.
func TestReadClassicFromEditcap(t *testing.T) {
	needTool(t, "editcap")
	in := samplePackets(t)
	dir := t.TempDir()
	ng := filepath.Join(dir, "in.pcapng")
	if err := os.WriteFile(ng, writeCapture(t, WriterOptions{Epoch: time.Unix(1_700_000_000, 0)}, in), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format string
		res    time.Duration
	}{{"pcap", time.Microsecond}, {"nsecpcap", time.Nanosecond}} {
		out := filepath.Join(dir, c.format)
		if b, err := exec.Command("editcap", "-F", c.format, ng, out).CombinedOutput(); err != nil {
			t.Fatalf("editcap -F %s: %v\n%s", c.format, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		format, pkts := readAll(t, b)
		if format != FormatPcap || len(pkts) != len(in) {
			t.Fatalf("%s: format %v, %d packets", c.format, format, len(pkts))
		}
		for i, p := range pkts {
			want := time.Unix(1_700_000_000, 0).Add(in[i].ts).Truncate(c.res)
			if !p.Timestamp.Equal(want) || !bytes.Equal(p.Data, in[i].data) || p.Comment != "" {
				t.Errorf("%s packet %d: %v %x, want %v %x", c.format, i, p.Timestamp, p.Data, want, in[i].data)
			}
			if ip, err := p.IP(); err != nil || !bytes.Equal(ip, in[i].data) {
				t.Errorf("%s packet %d IP(): %v", c.format, i, err)
			}
		}
	}
}

// classicPcap builds a classic pcap file by hand.
func classicPcap(order binary.AppendByteOrder, nano bool, lt LinkType, recs ...[]byte) []byte {
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, uint32(lt))
	for i, r := range recs {
		b = order.AppendUint32(b, uint32(1000+i))
		b = order.AppendUint32(b, 999)
		b = order.AppendUint32(b, uint32(len(r)))
		b = order.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func TestReadClassicByHand(t *testing.T) {
	pkt := tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1, nil)
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			format, pkts := readAll(t, classicPcap(order, nano, LinkTypeIPv4, pkt, pkt))
			if format != FormatPcap || len(pkts) != 2 {
				t.Fatalf("%v nano=%v: %v %d packets", order, nano, format, len(pkts))
			}
			frac := 999 * time.Microsecond
			if nano {
				frac = 999
			}
			if want := time.Unix(1001, 0).Add(frac); !pkts[1].Timestamp.Equal(want) {
				t.Errorf("%v nano=%v: time %v, want %v", order, nano, pkts[1].Timestamp, want)
			}
			if pkts[0].LinkType != LinkTypeIPv4 || !bytes.Equal(pkts[0].Data, pkt) || pkts[1].Offset != 24+16+int64(len(pkt)) {
				t.Errorf("%v nano=%v: %+v", order, nano, pkts[0])
			}
		}
	}
}

// sll2 prefixes an IP datagram with a Linux cooked v2 header.
func sll2(pktType byte, ip []byte) []byte {
	h := make([]byte, 20)
	proto := uint16(etherTypeIPv4)
	if ip[0]>>4 == 6 {
		proto = etherTypeIPv6
	}
	binary.BigEndian.PutUint16(h[0:], proto)
	binary.BigEndian.PutUint32(h[4:], 3)   // interface index
	binary.BigEndian.PutUint16(h[8:], 1)   // ARPHRD_ETHER
	h[10] = pktType                        // 0 to us, 4 outgoing
	h[11] = 6                              // address length
	copy(h[12:], []byte{2, 0, 0, 0, 0, 1}) // link-layer address
	return append(h, ip...)
}

// A hand-built LINUX_SLL2 capture, the link type of `tcpdump -i any`: IP()
// strips the 20-byte header and the padding after the datagram, and the
// packet type gives the direction.
func TestSLL2(t *testing.T) {
	v4 := tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1, nil)
	v6 := tcpPacket(t, "fd00::1", "fd00::2", wire.FlagACK, 2, []byte("data"))
	padded := append(append([]byte{}, v4...), 0, 0, 0, 0) // link padding
	file := classicPcap(binary.LittleEndian, false, LinkTypeLinuxSLL2, sll2(4, padded), sll2(0, v6))
	_, pkts := readAll(t, file)
	if len(pkts) != 2 {
		t.Fatalf("%d packets", len(pkts))
	}
	for i, c := range []struct {
		dir Direction
		ip  []byte
	}{{Out, v4}, {In, v6}} {
		if pkts[i].LinkType != LinkTypeLinuxSLL2 || pkts[i].Direction != c.dir {
			t.Errorf("packet %d: link %v direction %v, want SLL2 %v", i, pkts[i].LinkType, pkts[i].Direction, c.dir)
		}
		ip, err := pkts[i].IP()
		if err != nil || !bytes.Equal(ip, c.ip) {
			t.Errorf("packet %d IP() = %x, %v; want %x", i, ip, err, c.ip)
		}
	}
	if _, err := exec.LookPath("tshark"); err == nil {
		// The oracle agrees the sample is well-formed SLL2.
		file := filepath.Join(t.TempDir(), "sll2.pcap")
		os.WriteFile(file, classicPcap(binary.LittleEndian, false, LinkTypeLinuxSLL2, sll2(4, padded), sll2(0, v6)), 0o644)
		rows := tsharkFields(t, file, "sll.pkttype", "ip.src", "ipv6.src", "tcp.flags")
		if len(rows) != 2 || rows[0][0] != "4" || rows[0][1] != "10.99.0.1" || rows[1][0] != "0" || rows[1][2] != "fd00::1" {
			t.Errorf("tshark reads the SLL2 sample as %q", rows)
		}
	}
}

func TestIPOtherLinkTypes(t *testing.T) {
	v4 := tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1, nil)
	v6 := tcpPacket(t, "fd00::1", "fd00::2", wire.FlagACK, 2, nil)
	eth := func(et uint16, tags int, ip []byte) []byte {
		b := make([]byte, 12, 64)
		for range tags {
			b = binary.BigEndian.AppendUint16(b, 0x8100)
			b = binary.BigEndian.AppendUint16(b, 7)
		}
		b = binary.BigEndian.AppendUint16(b, et)
		b = append(b, ip...)
		for len(b) < 60 {
			b = append(b, 0) // minimum frame size
		}
		return b
	}
	sll := func(pktType uint16, ip []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], pktType)
		binary.BigEndian.PutUint16(h[14:], etherTypeIPv4)
		return append(h, ip...)
	}
	null := append([]byte{2, 0, 0, 0}, v4...)
	cases := []struct {
		name string
		p    Packet
		want []byte
		dir  Direction
	}{
		{"ethernet", Packet{LinkType: LinkTypeEthernet, Data: eth(etherTypeIPv4, 0, v4)}, v4, Unknown},
		{"ethernet vlan", Packet{LinkType: LinkTypeEthernet, Data: eth(etherTypeIPv6, 1, v6)}, v6, Unknown},
		{"ethernet qinq", Packet{LinkType: LinkTypeEthernet, Data: eth(etherTypeIPv4, 2, v4)}, v4, Unknown},
		{"sll outgoing", Packet{LinkType: LinkTypeLinuxSLL, Data: sll(4, v4)}, v4, Out},
		{"sll host", Packet{LinkType: LinkTypeLinuxSLL, Data: sll(0, v4)}, v4, In},
		{"null", Packet{LinkType: LinkTypeNull, Data: null}, v4, Unknown},
		{"ipv6", Packet{LinkType: LinkTypeIPv6, Data: v6}, v6, Unknown},
	}
	for _, c := range cases {
		ip, err := c.p.IP()
		if err != nil || !bytes.Equal(ip, c.want) {
			t.Errorf("%s: IP() = %x, %v", c.name, ip, err)
		}
		if d := cookedDirection(c.p.LinkType, c.p.Data); d != c.dir {
			t.Errorf("%s: direction %v, want %v", c.name, d, c.dir)
		}
	}
	bad := []Packet{
		{LinkType: LinkTypeEthernet, Data: eth(0x0806, 0, make([]byte, 28))}, // ARP
		{LinkType: LinkTypeEthernet, Data: []byte{1, 2, 3}},
		{LinkType: LinkTypeIPv4, Data: v6},
		{LinkType: LinkTypeRaw, Data: nil},
		{LinkType: LinkTypeLinuxSLL2, Data: make([]byte, 19)},
		{LinkType: 147, Data: v4},
	}
	for _, p := range bad {
		if ip, err := p.IP(); !errors.Is(err, ErrNotIP) {
			t.Errorf("%v %x: IP() = %x, %v; want ErrNotIP", p.LinkType, p.Data, ip, err)
		}
	}
}

// pcapng features the Writer does not produce but other tools do: a
// big-endian section, microsecond and binary resolutions, if_tsoffset,
// several interfaces, a Simple Packet Block, skipped block types and a
// second section.
func TestReadPcapNGVariants(t *testing.T) {
	be := binary.BigEndian
	block := func(typ uint32, body []byte) []byte {
		body = append(body, make([]byte, pad(len(body)))...)
		n := uint32(len(body) + 12)
		b := be.AppendUint32(nil, typ)
		b = be.AppendUint32(b, n)
		b = append(b, body...)
		return be.AppendUint32(b, n)
	}
	opt := func(code uint16, val []byte) []byte {
		b := be.AppendUint16(nil, code)
		b = be.AppendUint16(b, uint16(len(val)))
		b = append(b, val...)
		return append(b, make([]byte, pad(len(val)))...)
	}
	shb := block(blockSHB, append(be.AppendUint32(nil, byteOrderMagic), 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	idb := func(lt LinkType, opts ...[]byte) []byte {
		b := be.AppendUint16(nil, uint16(lt))
		b = append(b, 0, 0, 0, 0, 0xff, 0xff)
		for _, o := range opts {
			b = append(b, o...)
		}
		return block(blockIDB, b)
	}
	epb := func(ifid uint32, ts uint64, data []byte, opts ...[]byte) []byte {
		b := be.AppendUint32(nil, ifid)
		b = be.AppendUint32(b, uint32(ts>>32))
		b = be.AppendUint32(b, uint32(ts))
		b = be.AppendUint32(b, uint32(len(data)))
		b = be.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
		b = append(b, make([]byte, pad(len(data)))...)
		for _, o := range opts {
			b = append(b, o...)
		}
		return block(blockEPB, b)
	}
	v4 := tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1, nil)
	var f []byte
	f = append(f, shb...)
	f = append(f, idb(LinkTypeRaw)...)                                                                                   // interface 0: µs
	f = append(f, idb(LinkTypeIPv4, opt(optTsresol, []byte{0x80 | 10}), opt(optTsoffset, be.AppendUint64(nil, 100)))...) // interface 1: 2^-10 s, +100 s
	f = append(f, block(5, make([]byte, 8))...)                                                                          // Interface Statistics: skipped
	f = append(f, epb(0, 1_500_000, v4, opt(optComment, []byte("one")), opt(optComment, []byte("two")), opt(optEpbFlags, []byte{0, 0, 0, 1}))...)
	f = append(f, epb(1, 3*1024+512, v4)...)
	f = append(f, block(blockSPB, append(be.AppendUint32(nil, uint32(len(v4))), v4...))...)
	f = append(f, shb...) // a new section forgets the interfaces
	f = append(f, idb(LinkTypeRaw, opt(optTsresol, []byte{3}))...)
	f = append(f, epb(0, 2500, v4)...)
	_, pkts := readAll(t, f)
	if len(pkts) != 4 {
		t.Fatalf("%d packets, want 4", len(pkts))
	}
	checks := []struct {
		ts      time.Time
		lt      LinkType
		comment string
		dir     Direction
		iface   int
	}{
		{time.Unix(1, 500_000_000), LinkTypeRaw, "one\ntwo", In, 0},
		{time.Unix(103, 500_000_000), LinkTypeIPv4, "", Unknown, 1},
		{time.Time{}, LinkTypeRaw, "", Unknown, 0},
		{time.Unix(2, 500_000_000), LinkTypeRaw, "", Unknown, 0},
	}
	for i, c := range checks {
		p := pkts[i]
		if !p.Timestamp.Equal(c.ts) || p.LinkType != c.lt || p.Comment != c.comment || p.Direction != c.dir || p.Interface != c.iface || !bytes.Equal(p.Data, v4) {
			t.Errorf("packet %d = %+v, want %+v", i, p, c)
		}
	}
}

func TestTimestampResolutions(t *testing.T) {
	cases := []struct {
		res  tsResolution
		ts   uint64
		want time.Time
	}{
		{tsResolution{exp: 0}, 5, time.Unix(5, 0)},
		{tsResolution{exp: 6}, 5_000_001, time.Unix(5, 1000)},
		{tsResolution{exp: 9}, 5_000_000_001, time.Unix(5, 1)},
		{tsResolution{exp: 12}, 5_000_000_001_999, time.Unix(5, 1)},
		{tsResolution{exp: 25}, 1 << 62, time.Unix(0, 461)},
		{tsResolution{exp: 127}, 1 << 63, time.Unix(0, 0)},
		{tsResolution{binary: true, exp: 1}, 3, time.Unix(1, 500_000_000)},
		{tsResolution{binary: true, exp: 63}, 1 << 62, time.Unix(0, 500_000_000)},
		{tsResolution{binary: true, exp: 64}, 1 << 63, time.Unix(0, 500_000_000)},
		{tsResolution{binary: true, exp: 127}, 1 << 63, time.Unix(0, 0)},
	}
	for _, c := range cases {
		if got := c.res.time(c.ts, 0); !got.Equal(c.want) {
			t.Errorf("%+v %d: %v, want %v", c.res, c.ts, got, c.want)
		}
	}
}

// Every truncation and a range of corruptions of a valid file give an
// error (never a panic, never a hang), with the offset of the bad block.
func TestMalformed(t *testing.T) {
	good := writeCapture(t, WriterOptions{}, samplePackets(t))
	for n := range len(good) {
		r, err := NewReader(bytes.NewReader(good[:n]))
		for err == nil {
			_, err = r.Next()
		}
		if n > 0 && err == io.EOF && !atBlockBoundary(good, n) {
			t.Fatalf("truncated at %d: clean EOF", n)
		}
	}
	// A huge length field is rejected before anything that size is
	// allocated.
	bad := bytes.Clone(good)
	off := blockOffsets(good)[3] // the second EPB
	le.PutUint32(bad[off+4:], 1<<30)
	_, err := readAllErr(bad)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Offset != int64(off) || !strings.Contains(fe.Msg, "limit") {
		t.Errorf("huge block: %v, want a FormatError at offset %d", err, off)
	}
	// A trailing length that disagrees.
	bad = bytes.Clone(good)
	le.PutUint32(bad[off+4:], le.Uint32(bad[off+4:])+4)
	if _, err := readAllErr(bad); !errors.As(err, &fe) || fe.Offset != int64(off) {
		t.Errorf("inconsistent lengths: %v", err)
	}
	// A packet on an interface never described.
	bad = bytes.Clone(good)
	le.PutUint32(bad[off+8:], 7)
	if _, err := readAllErr(bad); !errors.As(err, &fe) || !strings.Contains(fe.Msg, "interface 7") {
		t.Errorf("unknown interface: %v", err)
	}
	if _, err := NewReader(strings.NewReader("GIF89a...")); err == nil {
		t.Error("a GIF was taken for a capture")
	}
	// Classic pcap with a record claiming 100 MiB.
	cl := classicPcap(binary.LittleEndian, false, LinkTypeRaw, []byte{0x45})
	le.PutUint32(cl[24+8:], 100<<20)
	if _, err := readAllErr(cl); !errors.As(err, &fe) || fe.Offset != 24 {
		t.Errorf("huge classic record: %v", err)
	}
}

func readAllErr(b []byte) (int, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// blockOffsets walks a little-endian pcapng file's blocks.
func blockOffsets(b []byte) []int {
	var offs []int
	for off := 0; off+8 <= len(b); off += int(le.Uint32(b[off+4:])) {
		offs = append(offs, off)
	}
	return offs
}

func atBlockBoundary(b []byte, n int) bool {
	for _, off := range blockOffsets(b) {
		if off == n {
			return true
		}
	}
	return false
}

func FuzzReader(f *testing.F) {
	f.Add(writeCapture(f, WriterOptions{InterfaceName: "x"}, samplePackets(f)))
	v4 := tcpPacket(f, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1, nil)
	f.Add(classicPcap(binary.BigEndian, true, LinkTypeLinuxSLL2, sll2(4, v4)))
	f.Add(classicPcap(binary.LittleEndian, false, LinkTypeEthernet, append(make([]byte, 12), 0x08, 0, 0x45)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for range 1000 {
			p, err := r.Next()
			if err != nil {
				var fe *FormatError
				if err != io.EOF && !errors.As(err, &fe) {
					t.Fatalf("error of type %T: %v", err, err)
				}
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			if p.Offset < 0 || p.Offset >= int64(len(data)) {
				t.Fatalf("offset %d outside the %d-byte file", p.Offset, len(data))
			}
			if ip, err := p.IP(); err == nil && len(ip) == 0 {
				t.Fatal("IP() returned an empty datagram without error")
			}
		}
	})
}
