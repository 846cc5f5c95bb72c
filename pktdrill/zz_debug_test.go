package pktdrill

import (
	"fmt"
	"os"
	"testing"
)

func TestZZDump(t *testing.T) {
	f := os.Getenv("PD_DUMP")
	if f == "" {
		t.Skip()
	}
	s, err := ParseFile(f, &Config{Defines: runnerDefines})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Print(Format(s))
}
