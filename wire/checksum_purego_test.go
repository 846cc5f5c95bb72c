//go:build purego

package wire

const purego = true
