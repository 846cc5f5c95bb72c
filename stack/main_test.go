package stack

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// stack is closed by its test, and no goroutine may survive Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
