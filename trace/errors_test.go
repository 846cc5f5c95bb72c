package trace

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/link/pcap"
)

func classic(lt pcap.LinkType, recs ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xA1B2C3D4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, uint32(lt))
	for i, r := range recs {
		b = binary.LittleEndian.AppendUint32(b, uint32(i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func TestMalformedCaptures(t *testing.T) {
	udp := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0, 53, 0, 8, 0, 0}
	for _, tc := range []struct {
		name, data, want string
		noTCP            bool
	}{
		{"empty file", "", "not a readable pcap", false},
		{"garbage", "this is not a capture at all", "not a readable pcap", false},
		{"header only", string(classic(pcap.LinkTypeRaw)), "no packets at all", true},
		{"UDP only", string(classic(pcap.LinkTypeRaw, udp)), "none TCP", true},
		{"junk packets", string(classic(pcap.LinkTypeRaw, []byte{0x45, 1, 2}, []byte{0x99})), "none TCP", true},
		{"unsupported link", string(classic(147, udp)), "none TCP", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Read(strings.NewReader(tc.data), Options{})
			if err == nil {
				t.Fatalf("no error; %d conns", len(a.Conns))
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrNoTCP) != tc.noTCP {
				t.Fatalf("error %q, want one mentioning %q (ErrNoTCP %v)", err, tc.want, tc.noTCP)
			}
		})
	}
}

// Every prefix and many corruptions of a real capture give an analysis or
// an error, never a panic.
func TestTruncatedAndCorrupt(t *testing.T) {
	r := runSim(t, 7, 8<<10, 5*time.Millisecond, 0.05)
	data := r.capA
	full, err := Read(bytes.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n += 1 + n/50 {
		a, err := Read(bytes.NewReader(data[:n]), Options{})
		if err == nil {
			WriteText(new(bytes.Buffer), a)
			WriteJSON(new(bytes.Buffer), a)
			if len(a.Conns) > len(full.Conns) {
				t.Fatalf("prefix %d: %d conns", n, len(a.Conns))
			}
		}
	}
	// A capture cut mid-packet is analysed with a warning.
	a, err := Read(bytes.NewReader(data[:len(data)-3]), Options{})
	if err != nil || len(a.Warnings) == 0 || !strings.Contains(a.Warnings[0], "truncated") {
		t.Fatalf("cut capture: %v %v", err, a)
	}
	for i := 0; i < 2000; i++ {
		b := append([]byte(nil), data...)
		for k := 0; k < 4; k++ {
			b[(i*7919+k*104729)%len(b)] ^= byte(i + k + 1)
		}
		if a, err := Read(bytes.NewReader(b), Options{}); err == nil {
			WriteText(new(bytes.Buffer), a)
			SVG(a)
		}
	}
}

func TestJSONAndRenderers(t *testing.T) {
	r := runSim(t, 1, 4<<10, 10*time.Millisecond, 0)
	a, err := Read(bytes.NewReader(r.capA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, a); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema      string `json:"schema"`
		Connections []struct {
			Left struct {
				Final string `json:"final_state"`
				Steps []struct {
					To         string `json:"to"`
					Confidence string `json:"confidence"`
				} `json:"steps"`
				TimeWaitExpiry int64 `json:"time_wait_expiry_ns"`
			} `json:"left"`
			Ladder struct {
				Messages []struct {
					Flags string `json:"flags"`
				} `json:"messages"`
				LeftSteps []any `json:"left_steps"`
			} `json:"ladder"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Connections[0]
	if doc.Schema != SchemaVersion || c.Left.Final != "TIME_WAIT" || c.Left.TimeWaitExpiry == 0 ||
		c.Ladder.Messages[0].Flags != "S" || len(c.Ladder.LeftSteps) != len(c.Left.Steps) {
		t.Fatalf("json: %s", b.String()[:min(2000, b.Len())])
	}
	svg := SVG(a)
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "TIME_WAIT") {
		t.Fatalf("svg: %.300s", svg)
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, a); err != nil || !strings.Contains(h.String(), "<svg") || !strings.Contains(h.String(), "TIME_WAIT") {
		t.Fatalf("html: %v", err)
	}
	// The ladder: a is near, so a's segments leave at their capture time
	// and arrive a one-way delay (10 ms) later.
	l := a.Conns[0].Ladder()
	if m := l.Messages[0]; m.Arrive-m.Time < 9*time.Millisecond || m.Arrive-m.Time > 11*time.Millisecond || m.Time < 0 {
		t.Fatalf("ladder message %+v", m)
	}
}
