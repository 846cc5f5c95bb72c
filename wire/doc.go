// Package wire is synfin's view of the bytes on the wire: the Internet
// checksum (RFC 1071), IPv4 (RFC 791) and IPv6 (RFC 8200) headers, and the TCP
// header and its options (RFC 9293 3.1, RFC 7323, RFC 2018).
//
// Every header type is a zero-copy view: a named []byte whose accessors read
// the fields in place. The Parse functions validate just enough that the
// lengths a view reports are consistent with the buffer, and they never
// allocate, so a segment can be taken apart on the receive path without
// garbage. Accessors never panic, whatever the bytes: a view that is too
// short for a field reports the zero value (and a setter on it does nothing),
// so even a view built by a plain conversion from untrusted bytes is safe to
// read. A malformed packet is reported as one of the exported sentinel errors
// (ErrTruncated, ErrBadOptionLength, ...), which callers compare with
// errors.Is.
//
// The builders append to a caller-supplied slice and allocate nothing when
// it has enough capacity, so the transmit path can reuse one buffer per
// packet.
package wire
