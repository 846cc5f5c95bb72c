package socket

import (
	"encoding/binary"
	"syscall"
	"time"

	"github.com/synfin/synfin/tcp"
)

// TCPInfo is Linux's struct tcp_info (TCP_INFO), field for field up to
// tcpi_total_rto_time, with its units: times in microseconds except the
// tcpi_last_* ages in milliseconds, sizes in bytes, windows in segments
// where Linux counts segments.
type TCPInfo struct {
	State        uint8 // TCP_ESTABLISHED (1) ... TCP_CLOSING (11)
	CAState      uint8 // TCP_CA_Open, TCP_CA_Recovery, TCP_CA_Loss
	Retransmits  uint8
	Probes       uint8
	Backoff      uint8
	Options      uint8 // TCPI_OPT_*
	SndWscale    uint8 // 4 bits
	RcvWscale    uint8 // 4 bits
	AppLimited   uint8 // tcpi_delivery_rate_app_limited, 1 bit
	FastopenFail uint8 // tcpi_fastopen_client_fail, 2 bits

	RTO    uint32
	ATO    uint32
	SndMSS uint32
	RcvMSS uint32

	Unacked uint32
	Sacked  uint32
	Lost    uint32
	Retrans uint32
	Fackets uint32

	LastDataSent uint32
	LastAckSent  uint32
	LastDataRecv uint32
	LastAckRecv  uint32

	PMTU        uint32
	RcvSsthresh uint32
	RTT         uint32
	RTTVar      uint32
	SndSsthresh uint32
	SndCwnd     uint32
	AdvMSS      uint32
	Reordering  uint32

	RcvRTT   uint32
	RcvSpace uint32

	TotalRetrans uint32

	PacingRate    uint64
	MaxPacingRate uint64
	BytesAcked    uint64
	BytesReceived uint64
	SegsOut       uint32
	SegsIn        uint32

	NotsentBytes uint32
	MinRTT       uint32
	DataSegsIn   uint32
	DataSegsOut  uint32

	DeliveryRate uint64

	BusyTime      uint64
	RwndLimited   uint64
	SndbufLimited uint64
	Delivered     uint32
	DeliveredCE   uint32
	BytesSent     uint64
	BytesRetrans  uint64
	DsackDups     uint32
	ReordSeen     uint32
	RcvOoopack    uint32
	SndWnd        uint32
	RcvWnd        uint32
	Rehash        uint32
	TotalRTO      uint16
	TotalRTORecov uint16
	TotalRTOTime  uint32
}

// TCPInfoSize is the length of the struct Marshal writes.
const TCPInfoSize = 248

// tcpInfoFields maps the C field names to offsets and sizes in the struct,
// for runners that check fields by name (packetdrill's tcpi_* variables).
// The wscale and bit fields share bytes and are listed by byte.
var tcpInfoFields = []struct {
	name      string
	off, size int
}{
	{"tcpi_state", 0, 1}, {"tcpi_ca_state", 1, 1}, {"tcpi_retransmits", 2, 1}, {"tcpi_probes", 3, 1},
	{"tcpi_backoff", 4, 1}, {"tcpi_options", 5, 1},
	{"tcpi_rto", 8, 4}, {"tcpi_ato", 12, 4}, {"tcpi_snd_mss", 16, 4}, {"tcpi_rcv_mss", 20, 4},
	{"tcpi_unacked", 24, 4}, {"tcpi_sacked", 28, 4}, {"tcpi_lost", 32, 4}, {"tcpi_retrans", 36, 4}, {"tcpi_fackets", 40, 4},
	{"tcpi_last_data_sent", 44, 4}, {"tcpi_last_ack_sent", 48, 4}, {"tcpi_last_data_recv", 52, 4}, {"tcpi_last_ack_recv", 56, 4},
	{"tcpi_pmtu", 60, 4}, {"tcpi_rcv_ssthresh", 64, 4}, {"tcpi_rtt", 68, 4}, {"tcpi_rttvar", 72, 4},
	{"tcpi_snd_ssthresh", 76, 4}, {"tcpi_snd_cwnd", 80, 4}, {"tcpi_advmss", 84, 4}, {"tcpi_reordering", 88, 4},
	{"tcpi_rcv_rtt", 92, 4}, {"tcpi_rcv_space", 96, 4}, {"tcpi_total_retrans", 100, 4},
	{"tcpi_pacing_rate", 104, 8}, {"tcpi_max_pacing_rate", 112, 8}, {"tcpi_bytes_acked", 120, 8}, {"tcpi_bytes_received", 128, 8},
	{"tcpi_segs_out", 136, 4}, {"tcpi_segs_in", 140, 4}, {"tcpi_notsent_bytes", 144, 4}, {"tcpi_min_rtt", 148, 4},
	{"tcpi_data_segs_in", 152, 4}, {"tcpi_data_segs_out", 156, 4}, {"tcpi_delivery_rate", 160, 8},
	{"tcpi_busy_time", 168, 8}, {"tcpi_rwnd_limited", 176, 8}, {"tcpi_sndbuf_limited", 184, 8},
	{"tcpi_delivered", 192, 4}, {"tcpi_delivered_ce", 196, 4}, {"tcpi_bytes_sent", 200, 8}, {"tcpi_bytes_retrans", 208, 8},
	{"tcpi_dsack_dups", 216, 4}, {"tcpi_reord_seen", 220, 4}, {"tcpi_rcv_ooopack", 224, 4},
	{"tcpi_snd_wnd", 228, 4}, {"tcpi_rcv_wnd", 232, 4}, {"tcpi_rehash", 236, 4},
	{"tcpi_total_rto", 240, 2}, {"tcpi_total_rto_recoveries", 242, 2}, {"tcpi_total_rto_time", 244, 4},
}

// Marshal lays the struct out as the kernel copies it to user space.
func (i *TCPInfo) Marshal() []byte {
	b := make([]byte, TCPInfoSize)
	le := binary.LittleEndian
	b[0], b[1], b[2], b[3], b[4], b[5] = i.State, i.CAState, i.Retransmits, i.Probes, i.Backoff, i.Options
	b[6] = i.SndWscale&0xf | i.RcvWscale<<4
	b[7] = i.AppLimited&1 | (i.FastopenFail&3)<<1
	u32 := []uint32{i.RTO, i.ATO, i.SndMSS, i.RcvMSS, i.Unacked, i.Sacked, i.Lost, i.Retrans, i.Fackets,
		i.LastDataSent, i.LastAckSent, i.LastDataRecv, i.LastAckRecv, i.PMTU, i.RcvSsthresh, i.RTT, i.RTTVar,
		i.SndSsthresh, i.SndCwnd, i.AdvMSS, i.Reordering, i.RcvRTT, i.RcvSpace, i.TotalRetrans}
	for k, v := range u32 {
		le.PutUint32(b[8+4*k:], v)
	}
	le.PutUint64(b[104:], i.PacingRate)
	le.PutUint64(b[112:], i.MaxPacingRate)
	le.PutUint64(b[120:], i.BytesAcked)
	le.PutUint64(b[128:], i.BytesReceived)
	le.PutUint32(b[136:], i.SegsOut)
	le.PutUint32(b[140:], i.SegsIn)
	le.PutUint32(b[144:], i.NotsentBytes)
	le.PutUint32(b[148:], i.MinRTT)
	le.PutUint32(b[152:], i.DataSegsIn)
	le.PutUint32(b[156:], i.DataSegsOut)
	le.PutUint64(b[160:], i.DeliveryRate)
	le.PutUint64(b[168:], i.BusyTime)
	le.PutUint64(b[176:], i.RwndLimited)
	le.PutUint64(b[184:], i.SndbufLimited)
	le.PutUint32(b[192:], i.Delivered)
	le.PutUint32(b[196:], i.DeliveredCE)
	le.PutUint64(b[200:], i.BytesSent)
	le.PutUint64(b[208:], i.BytesRetrans)
	le.PutUint32(b[216:], i.DsackDups)
	le.PutUint32(b[220:], i.ReordSeen)
	le.PutUint32(b[224:], i.RcvOoopack)
	le.PutUint32(b[228:], i.SndWnd)
	le.PutUint32(b[232:], i.RcvWnd)
	le.PutUint32(b[236:], i.Rehash)
	le.PutUint16(b[240:], i.TotalRTO)
	le.PutUint16(b[242:], i.TotalRTORecov)
	le.PutUint32(b[244:], i.TotalRTOTime)
	return b
}

// Fields returns the struct's fields by their C names ("tcpi_state",
// "tcpi_snd_cwnd", ...), as packetdrill's code blocks see them.
func (i *TCPInfo) Fields() map[string]uint64 {
	b := i.Marshal()
	m := make(map[string]uint64, len(tcpInfoFields)+4)
	for _, f := range tcpInfoFields {
		var v uint64
		switch f.size {
		case 1:
			v = uint64(b[f.off])
		case 2:
			v = uint64(binary.LittleEndian.Uint16(b[f.off:]))
		case 4:
			v = uint64(binary.LittleEndian.Uint32(b[f.off:]))
		case 8:
			v = binary.LittleEndian.Uint64(b[f.off:])
		}
		m[f.name] = v
	}
	m["tcpi_snd_wscale"] = uint64(i.SndWscale)
	m["tcpi_rcv_wscale"] = uint64(i.RcvWscale)
	m["tcpi_delivery_rate_app_limited"] = uint64(i.AppLimited)
	m["tcpi_fastopen_client_fail"] = uint64(i.FastopenFail)
	return m
}

// TCPInfo returns getsockopt(fd, SOL_TCP, TCP_INFO) decoded.
func (t *Table) TCPInfo(fd int) (TCPInfo, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return TCPInfo{}, e
	}
	return s.tcpInfo(), 0
}

func usec(d time.Duration) uint32 { return uint32(d / time.Microsecond) }
func msec(d time.Duration) uint32 { return uint32(d / time.Millisecond) }

// tcpInfo is tcp_get_info.
func (s *sock) tcpInfo() TCPInfo {
	cfg := s.t.st.Config()
	info := TCPInfo{Reordering: 3, SndCwnd: uint32(cfg.InitCwnd), MaxPacingRate: ^uint64(0)}
	v := s.look()
	info.State = uint8(s.tcpState(&v))
	if s.state == ssListening {
		// Listeners alias tcpi_unacked to the accept queue's length and
		// tcpi_sacked to the backlog.
		info.Unacked = uint32(s.ln.Pending())
		info.Sacked = uint32(s.ln.Backlog() - 1)
		return info
	}
	if !v.conn {
		info.RTO = usec(cfg.RTOInitial)
		info.SndMSS = 536
		info.SndSsthresh = 0x7fffffff
		info.MinRTT = ^uint32(0)
		return info
	}
	var ti tcp.Info
	var synData bool
	s.conn.Do(func(tb *tcp.TCB, now tcp.Time) { ti, synData = tb.InfoAt(now), tb.FastOpenSynData() })
	switch ti.CAState {
	case "disorder":
		info.CAState = TCP_CA_Disorder
	case "cwr":
		info.CAState = TCP_CA_CWR
	case "recovery":
		info.CAState = TCP_CA_Recovery
	case "loss":
		info.CAState = TCP_CA_Loss
	}
	if ti.ECN {
		info.Options |= TCPI_OPT_ECN
	}
	if ti.ECNSeen {
		info.Options |= TCPI_OPT_ECN_SEEN
	}
	info.DeliveredCE = ti.DeliveredCE
	info.Retransmits = uint8(ti.Retransmits)
	info.Probes = uint8(ti.Probes)
	info.Backoff = uint8(ti.Backoff)
	if ti.Timestamps {
		info.Options |= TCPI_OPT_TIMESTAMPS
	}
	if ti.SACK {
		info.Options |= TCPI_OPT_SACK
	}
	if ti.WindowScale {
		info.Options |= TCPI_OPT_WSCALE
		info.SndWscale, info.RcvWscale = ti.SndWscale, ti.RcvWscale
	}
	if synData {
		// RFC 7413: the SYN's data was acknowledged (client) or accepted
		// (server).
		info.Options |= TCPI_OPT_SYN_DATA
	}
	info.RTO = usec(ti.RTO)
	info.ATO = usec(ti.ATO)
	info.SndMSS = uint32(ti.SndMSS)
	info.RcvMSS = uint32(ti.RcvMSS)
	info.Unacked = ti.Unacked
	info.Lost = ti.Lost
	info.Sacked = ti.Sacked
	info.ReordSeen = ti.ReordSeen
	info.DsackDups = uint32(ti.DSACKDups)
	info.Retrans = ti.Retrans
	info.LastDataSent = msec(ti.LastDataSent)
	info.LastDataRecv = msec(ti.LastDataRecv)
	info.LastAckRecv = msec(ti.LastAckRecv)
	info.PMTU = uint32(ti.PMTU)
	info.RcvSsthresh = ti.RcvSsthresh
	info.RTT = usec(ti.RTT)
	info.RTTVar = usec(ti.RTTVar)
	info.SndSsthresh = ti.SndSsthresh
	info.SndCwnd = ti.SndCwnd
	info.AdvMSS = uint32(ti.AdvMSS)
	info.Reordering = uint32(ti.Reordering)
	info.RcvSpace = uint32(ti.RcvSpace)
	info.TotalRetrans = uint32(ti.TotalRetrans)
	info.BytesAcked = ti.BytesAcked
	info.BytesReceived = ti.BytesRecv
	info.SegsOut = uint32(ti.SegsOut)
	info.SegsIn = uint32(ti.SegsIn)
	info.NotsentBytes = uint32(max(ti.NotSentBytes, 0))
	info.MinRTT = usec(ti.MinRTT)
	if ti.MinRTT == 0 {
		info.MinRTT = ^uint32(0) // no sample yet: minmax's ~0U
	}
	info.DataSegsIn = uint32(ti.DataSegsIn)
	info.DataSegsOut = uint32(ti.DataSegsOut)
	info.BytesSent = ti.BytesSent
	info.BytesRetrans = ti.BytesRetrans
	info.SndWnd = ti.SndWnd
	info.RcvWnd = ti.RcvWnd
	info.TotalRTO = uint16(ti.Timeouts)
	info.BusyTime = uint64(ti.BusyTime / time.Microsecond)
	info.RwndLimited = uint64(ti.RwndLimited / time.Microsecond)
	info.SndbufLimited = uint64(ti.SndbufLimited / time.Microsecond)
	info.RcvRTT = usec(ti.RcvRTT)
	info.RcvOoopack = uint32(ti.RcvOOOPack)
	return info
}

// setNospace sets SOCK_NOSPACE, and tells the engine, which counts the
// time the sender is limited by the send buffer (tcpi_sndbuf_limited)
// while the flag is set.
func (s *sock) setNospace(on bool) {
	if s.nospace == on {
		return
	}
	s.nospace = on
	if s.conn != nil {
		s.conn.Do(func(tb *tcp.TCB, now tcp.Time) { tb.SetSendBufferFull(now, on) })
	}
}
