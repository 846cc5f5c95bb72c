//go:build !linux

package runner

import "errors"

// Kernel returns the target that runs scripts against the Linux kernel; it
// only works on Linux.
func Kernel() Target { return kernelTarget{} }

type kernelTarget struct{}

func (kernelTarget) Name() string { return "kernel" }

func (kernelTarget) Open(*Config) (Instance, error) {
	return nil, errors.New("the kernel target needs Linux (network namespaces and TUN devices)")
}

func init() { RegisterTarget("kernel", Kernel) }
