package runner

import (
	"fmt"
	"strings"
	"syscall"
)

var errnoByNum = func() map[int]errnoInfo {
	m := make(map[int]errnoInfo, len(errnos))
	for _, e := range errnos {
		m[e.num] = e
	}
	return m
}()

var errnoByName = func() map[string]int {
	m := make(map[string]int, len(errnos)+len(errnoAliases))
	for _, e := range errnos {
		m[e.name] = e.num
	}
	for k, v := range errnoAliases {
		m[k] = v
	}
	return m
}()

// ErrnoName returns the Linux name of an errno ("EAGAIN"), or "E<n>".
func ErrnoName(e syscall.Errno) string {
	if info, ok := errnoByNum[int(e)]; ok {
		return info.name
	}
	return fmt.Sprintf("E%d", int(e))
}

// Strerror returns glibc's text for a Linux errno ("Resource temporarily
// unavailable"); "Success" for 0.
func Strerror(e syscall.Errno) string {
	if e == 0 {
		return "Success"
	}
	if info, ok := errnoByNum[int(e)]; ok {
		return info.text
	}
	return fmt.Sprintf("Unknown error %d", int(e))
}

// ErrnoValue returns the Linux number of an errno name ("EAGAIN" is 11).
func ErrnoValue(name string) (syscall.Errno, bool) {
	n, ok := errnoByName[name]
	return syscall.Errno(n), ok
}

// Symbol returns the Linux value of a constant a script may name
// (SOCK_STREAM, O_NONBLOCK, TCP_INFO, EPOLLIN, ...), errno names included.
func Symbol(name string) (int64, bool) {
	if v, ok := symbols[name]; ok {
		return v, true
	}
	if v, ok := errnoByName[name]; ok {
		return int64(v), true
	}
	return 0, false
}

// pollFlagNames lists poll(2) event bits in the order flags are printed.
var pollFlagNames = []string{"POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDNORM", "POLLRDBAND", "POLLWRNORM", "POLLWRBAND", "POLLMSG", "POLLREMOVE", "POLLRDHUP"}

// flagsString prints v as NAME|NAME|0x..., or "0".
func flagsString(v int64, names []string) string {
	if v == 0 {
		return "0"
	}
	var parts []string
	rest := v
	for _, n := range names {
		bit := symbols[n]
		if bit != 0 && rest&bit == bit {
			parts = append(parts, n)
			rest &^= bit
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(parts, "|")
}
