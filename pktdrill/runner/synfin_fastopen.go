package runner

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// TCP Fast Open on the synfin target: the server key sysctl.

// fastOpenKeys is net.ipv4.tcp_fastopen_key: a key and maybe a backup.
type fastOpenKeys struct {
	primary [16]byte
	backup  *[16]byte
}

// fastOpenKeySysctl sets net.ipv4.tcp_fastopen_key from Linux's notation,
// "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd[,backup]": four 32-bit words in hex,
// which Linux stores in the CPU's (little-endian) byte order, the order
// the cookie's SipHash reads the key bytes in.
func (in *synfinInstance) fastOpenKeySysctl(value string) error {
	primary, backup, _ := strings.Cut(value, ",")
	var k fastOpenKeys
	if err := parseFastOpenKey(primary, &k.primary); err != nil {
		return err
	}
	if backup != "" {
		var b [16]byte
		if err := parseFastOpenKey(backup, &b); err != nil {
			return err
		}
		k.backup = &b
	}
	in.foKeys = &k
	if in.st != nil {
		in.st.SetFastOpenKey(k.primary, k.backup)
	}
	return nil
}

func parseFastOpenKey(s string, out *[16]byte) error {
	words := strings.Split(strings.TrimSpace(s), "-")
	if len(words) != 4 {
		return fmt.Errorf("sysctl net.ipv4.tcp_fastopen_key: bad key %q", s)
	}
	for i, w := range words {
		v, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			return fmt.Errorf("sysctl net.ipv4.tcp_fastopen_key: bad key %q", s)
		}
		binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
	}
	return nil
}

func formatFastOpenKey(k *[16]byte) string {
	w := func(i int) uint32 { return binary.LittleEndian.Uint32(k[4*i:]) }
	return fmt.Sprintf("%08x-%08x-%08x-%08x", w(0), w(1), w(2), w(3))
}

// fastOpenKeyValue reads the key back in the same notation ("" when it was
// never set: the stack's own key is secret).
func (in *synfinInstance) fastOpenKeyValue() string {
	if in.foKeys == nil {
		return ""
	}
	s := formatFastOpenKey(&in.foKeys.primary)
	if in.foKeys.backup != nil {
		s += "," + formatFastOpenKey(in.foKeys.backup)
	}
	return s
}
