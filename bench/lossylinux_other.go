//go:build !linux

package main

import (
	"fmt"
	"os"
)

func runLinuxLossy(string, int) int {
	fmt.Fprintln(os.Stderr, "-lossy-linux needs Linux network namespaces")
	return 2
}
