package wire

import (
	"bytes"
	"errors"
	"testing"
)

// The option layouts Linux 6.x writes (tcp_options_write), as tcpdump shows
// them, with the bytes they must encode to.
var optionLayouts = []struct {
	name string
	o    TCPOptions
	syn  bool
	hex  string
}{
	{"syn mss,sackOK,TS,nop,wscale",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 0x01020304, TSEcr: 0, HasWScale: true, WScale: 7},
		true, "020405b4 | 0402080a 01020304 00000000 | 01030307"},
	{"syn-ack mss,sackOK,TS,nop,wscale",
		TCPOptions{HasMSS: true, MSS: 65495, SACKPermitted: true, HasTimestamps: true, TSVal: 0xdeadbeef, TSEcr: 0x01020304, HasWScale: true, WScale: 10},
		true, "0204ffd7 | 0402080a deadbeef 01020304 | 0103030a"},
	{"syn mss,nop,nop,sackOK,nop,wscale",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 7},
		true, "020405b4 | 01010402 | 01030307"},
	{"syn mss,nop,wscale",
		TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 0},
		true, "020405b4 | 01030300"},
	{"syn mss,nop,nop,TS,nop,wscale",
		TCPOptions{HasMSS: true, MSS: 536, HasTimestamps: true, TSVal: 1, TSEcr: 2, HasWScale: true, WScale: 14},
		true, "02040218 | 0101080a 00000001 00000002 | 0103030e"},
	{"syn mss,sackOK,TS",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 5, TSEcr: 6},
		true, "020405b4 | 0402080a 00000005 00000006"},
	{"syn mss,nop,nop,sackOK",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true},
		true, "020405b4 | 01010402"},
	{"syn mss only", TCPOptions{HasMSS: true, MSS: 1220}, true, "020404c4"},
	{"syn nop,nop,TS (no mss)", TCPOptions{HasTimestamps: true, TSVal: 7, TSEcr: 8}, true, "0101080a 00000007 00000008"},
	{"syn nothing", TCPOptions{}, true, ""},
	{"ack nop,nop,TS", TCPOptions{HasTimestamps: true, TSVal: 100, TSEcr: 200}, false,
		"0101080a 00000064 000000c8"},
	{"ack nop,nop,TS,nop,nop,sack 1",
		TCPOptions{HasTimestamps: true, TSVal: 100, TSEcr: 200, NumSACK: 1, SACKBlocks: [4]SACKBlock{{1000, 2000}}}, false,
		"0101080a 00000064 000000c8 | 0101050a 000003e8 000007d0"},
	{"ack nop,nop,TS,nop,nop,sack 3",
		TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 3, SACKBlocks: [4]SACKBlock{{10, 20}, {30, 40}, {50, 60}}}, false,
		"0101080a 00000001 00000002 | 0101051a 0000000a 00000014 0000001e 00000028 00000032 0000003c"},
	{"ack nop,nop,sack 4 (no TS)",
		TCPOptions{NumSACK: 4, SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {0xfffffff0, 0x10}}}, false,
		"01010522 00000001 00000002 00000003 00000004 00000005 00000006 fffffff0 00000010"},
	{"ack nothing", TCPOptions{}, false, ""},
	// RFC 7413 4.1.1, Linux's layout: the Fast Open option last, NOP-padded.
	{"syn mss,nop,nop,sackOK,nop,wscale,FO,nop,nop (cookie request)",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 8, FastOpen: FastOpen{Present: true}},
		true, "020405b4 | 01010402 | 01030308 | 2202 0101"},
	{"syn mss,sackOK,TS,nop,wscale,FO cookie8,nop,nop",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 1, HasWScale: true, WScale: 8,
			FastOpen: FastOpen{Present: true, Len: 8, Cookie: [16]byte{0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb}}},
		true, "020405b4 | 0402080a 00000001 00000000 | 01030308 | 220a 3021b9d8 89017eeb 0101"},
	{"syn-ack mss,FO cookie6 (no padding)",
		TCPOptions{HasMSS: true, MSS: 1240, FastOpen: FastOpen{Present: true, Len: 6, Cookie: [16]byte{0xaa, 0xaa, 0xbb, 0xbb, 0xcc, 0xcc}}},
		true, "020404d8 | 2208 aaaabbbb cccc"},
	{"syn mss,nop,nop,sackOK,nop,wscale,FOEXP (experimental cookie request)",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 8, FastOpen: FastOpen{Present: true, Exp: true}},
		true, "020405b4 | 01010402 | 01030308 | fe04f989"},
	{"syn-ack FOEXP cookie4",
		TCPOptions{FastOpen: FastOpen{Present: true, Exp: true, Len: 4, Cookie: [16]byte{0x12, 0x34, 0xab, 0xcd}}},
		true, "fe08f989 1234abcd"},
	{"syn TS,wscale,FO cookie16 fills the 40 octets",
		TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, HasWScale: true, WScale: 8,
			FastOpen: FastOpen{Present: true, Len: 16, Cookie: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}},
		true, "020405b4 | 0402080a 00000000 00000000 | 01030308 | 2212 01020304 05060708 090a0b0c 0d0e0f10 0101"},
}

func TestAppendTCPOptionsLayouts(t *testing.T) {
	for _, tt := range optionLayouts {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.hex)
			got := AppendTCPOptions(nil, &tt.o, tt.syn)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendTCPOptions = % x\nwant               % x", got, want)
			}
			if n := tt.o.Len(tt.syn); n != len(want) {
				t.Errorf("Len = %d, want %d", n, len(want))
			}
			if len(got)%4 != 0 {
				t.Errorf("length %d is not a multiple of 4", len(got))
			}
			// Appending keeps what is already in dst.
			pre := []byte{0xaa, 0xbb}
			if got := AppendTCPOptions(pre, &tt.o, tt.syn); !bytes.Equal(got[:2], pre) || !bytes.Equal(got[2:], want) {
				t.Errorf("appending to a prefix gave % x", got)
			}
			var back TCPOptions
			if err := ParseTCPOptions(want, &back); err != nil {
				t.Fatalf("ParseTCPOptions: %v", err)
			}
			if back != tt.o {
				t.Errorf("round trip:\n got %+v\nwant %+v", back, tt.o)
			}
		})
	}
}

func TestAppendTCPOptionsFilters(t *testing.T) {
	all := TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7, SACKPermitted: true,
		HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 4,
		SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}, Unknown: 3, WScaleClamped: true}
	tests := []struct {
		name string
		o    TCPOptions
		syn  bool
		want TCPOptions // what parsing the encoding gives
	}{
		{"syn drops sack blocks", all, true,
			TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7, SACKPermitted: true, HasTimestamps: true, TSVal: 1, TSEcr: 2}},
		{"non-syn drops syn-only options and the 4th block beside TS", all, false,
			TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 3, SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}}}},
		{"negative NumSACK", TCPOptions{NumSACK: -1}, false, TCPOptions{}},
		{"huge NumSACK", TCPOptions{NumSACK: 99, SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}, false,
			TCPOptions{NumSACK: 4, SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}},
		{"wscale above 14 is sent as is", TCPOptions{HasWScale: true, WScale: 15}, true,
			TCPOptions{HasWScale: true, WScale: 14, WScaleClamped: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendTCPOptions(nil, &tt.o, tt.syn)
			if len(b) != tt.o.Len(tt.syn) || len(b)%4 != 0 || len(b) > MaxTCPOptionsLen {
				t.Errorf("encoded %d octets, Len says %d", len(b), tt.o.Len(tt.syn))
			}
			var got TCPOptions
			if err := ParseTCPOptions(b, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseTCPOptions(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want TCPOptions
	}{
		{"empty", "", TCPOptions{}},
		{"eol stops parsing", "00 020405b4", TCPOptions{}},
		{"eol after mss, garbage after it ignored", "020405b4 00 ff ff ff", TCPOptions{HasMSS: true, MSS: 1460}},
		{"nops only", "01010101", TCPOptions{}},
		{"unknown kinds skipped and counted", "1e03aa 020405b4 fd04beef 0f02",
			TCPOptions{HasMSS: true, MSS: 1460, Unknown: 3}},
		{"unknown kind 6 (echo) and 7 (echo reply)", "0606 00000000 0706 00000000", TCPOptions{Unknown: 2}},
		{"wscale 14 kept", "010303 0e", TCPOptions{HasWScale: true, WScale: 14}},
		{"wscale 15 clamped", "010303 0f", TCPOptions{HasWScale: true, WScale: 14, WScaleClamped: true}},
		{"wscale 255 clamped", "010303 ff", TCPOptions{HasWScale: true, WScale: 14, WScaleClamped: true}},
		{"later wscale clears the clamp", "03030f 030307", TCPOptions{HasWScale: true, WScale: 7}},
		{"duplicate mss: last wins", "02040001 02040002", TCPOptions{HasMSS: true, MSS: 2}},
		{"sack with 5 blocks keeps the first 4",
			"052a 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008 00000009 0000000a",
			TCPOptions{NumSACK: 4, SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}},
		{"second sack replaces the first",
			"0512 00000001 00000002 00000003 00000004 | 050a 00000009 0000000a",
			TCPOptions{NumSACK: 1, SACKBlocks: [4]SACKBlock{{9, 10}}}},
		{"linux syn", "020405b4 0402080a 0001e240 00000000 01030307",
			TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 123456, HasWScale: true, WScale: 7}},
		// RFC 7413 4.1.1: a cookie is 4 to 16 octets of even length; Linux
		// ignores Fast Open options with other lengths.
		{"fast open cookie request", "2202 0101", TCPOptions{FastOpen: FastOpen{Present: true}}},
		{"fast open cookie 4", "2206 00000000 0101", TCPOptions{FastOpen: FastOpen{Present: true, Len: 4}}},
		{"fast open cookie of 2 octets is unknown", "2204 1122", TCPOptions{Unknown: 1}},
		{"fast open cookie of 3 octets is unknown", "2205 112233 01", TCPOptions{Unknown: 1}},
		{"fast open cookie of 18 octets is unknown", "2214 01234567 aabbccdd 01234567 01234567 afaf", TCPOptions{Unknown: 1}},
		{"experimental fast open cookie request", "fe04f989", TCPOptions{FastOpen: FastOpen{Present: true, Exp: true}}},
		{"experimental kind with another magic is unknown", "fe08f988 1234abcd", TCPOptions{Unknown: 1}},
		{"experimental fast open cookie", "fe0cf989 01234567 89abcdef",
			TCPOptions{FastOpen: FastOpen{Present: true, Exp: true, Len: 8, Cookie: [16]byte{1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got TCPOptions
			got.Unknown = 42 // must be reset
			if err := ParseTCPOptions(unhex(t, tt.hex), &got); err != nil {
				t.Fatalf("error %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseTCPOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
	}{
		{"kind without length", "02"},
		{"kind without length after nop", "0101 08"},
		{"unknown kind without length", "fe"},
		{"length 0", "1e00"},
		{"length 1", "1e01 0000"},
		{"length past the end", "1e05 0000"},
		{"mss too long", "0205 000000"},
		{"mss too short", "0203 00"},
		{"mss truncated", "0204 05"},
		{"wscale length 4", "0304 0700"},
		{"wscale length 2", "0302"},
		{"sackOK length 3", "0403 00"},
		{"sack no blocks", "0502"},
		{"sack partial block", "0506 00000001"},
		{"sack length not 2+8n", "050b 00000001 00000002 00"},
		{"timestamps length 8", "0808 00000001 0000"},
		{"timestamps truncated", "080a 00000001 0000"},
		{"bad option after good ones", "020405b4 0101 0403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o TCPOptions
			err := ParseTCPOptions(unhex(t, tt.hex), &o)
			if !errors.Is(err, ErrBadOptionLength) {
				t.Errorf("err = %v, want ErrBadOptionLength", err)
			}
		})
	}
}

func TestSACKClamps(t *testing.T) {
	o := TCPOptions{NumSACK: 2}
	if len(o.SACK()) != 2 {
		t.Errorf("SACK() has %d blocks, want 2", len(o.SACK()))
	}
	for _, n := range []int{-5, 5, 1 << 30} {
		o.NumSACK = n
		if got := len(o.SACK()); got < 0 || got > MaxSACKBlocks {
			t.Errorf("NumSACK %d: SACK() has %d blocks", n, got)
		}
	}
}
